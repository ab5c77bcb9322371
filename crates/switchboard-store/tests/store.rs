//! The store's contract, run against every backend (SQLite, and PostgreSQL
//! when the test run has one: always under CI).

// Tests and benchmarks may unwrap: a failure is the report.
#![allow(clippy::unwrap_used, unreachable_pub)]

use switchboard_model::objects::hours::always_open;
use switchboard_model::objects::routing_profile::{
    CrossChannelBehavior, MediaConcurrency, RoutingProfileQueue,
};
use switchboard_model::{
    Channel, ConfigSpec, HoursOfOperation, Queue, QueueStatus, RoutingProfile,
};
use switchboard_store::testing::stores;
use switchboard_store::{Actor, AuditQuery, Ref, Store, StoreError};

fn queue(name: &str, hours_id: &str) -> Queue {
    Queue {
        name: name.into(),
        description: String::new(),
        hours_of_operation: hours_id.into(),
        max_contacts: None,
        customer_queue_flow: None,
        outbound_caller_id_name: None,
        outbound_caller_id_number: None,
        outbound_flow: None,
        quick_connects: vec![],
        status: QueueStatus::Enabled,
        routing_strategy: Default::default(),
        min_agent_idle_seconds: 0,
    }
}

fn refs_of<T: ConfigSpec>(spec: &mut T) -> Vec<Ref> {
    spec.references_mut()
        .into_iter()
        .map(|s| Ref {
            field: s.field,
            to_id: s.value.clone(),
        })
        .collect()
}

async fn create<T: ConfigSpec>(
    store: &Store,
    mut spec: T,
) -> Result<switchboard_store::Record<T>, StoreError> {
    let refs = refs_of(&mut spec);
    store.create(spec, &refs, false, &Actor::system()).await
}

#[tokio::test]
async fn create_get_by_id_and_name_update_delete() {
    for (backend, db) in stores().await {
        let s = &db.store;
        let hours = create(s, always_open("Basic Hours", "UTC")).await.unwrap();
        let q = create(s, queue("Sales", &hours.id)).await.unwrap();
        assert_eq!(q.version, 1, "{backend}");

        let by_id: Queue = s.get::<Queue>(&q.id).await.unwrap().unwrap().spec;
        let by_name = s.get::<Queue>("sALES").await.unwrap().unwrap();
        assert_eq!(by_id, q.spec, "{backend}");
        assert_eq!(by_name.id, q.id, "{backend}: names are case-insensitive");
        assert!(
            s.get::<HoursOfOperation>("Sales").await.unwrap().is_none(),
            "{backend}: kinds are separate"
        );

        let mut changed = q.spec.clone();
        changed.max_contacts = Some(10);
        let refs = refs_of(&mut changed);
        let updated = s
            .update(&q.id, changed, &refs, Some(1), &Actor::system())
            .await
            .unwrap();
        assert_eq!(updated.version, 2, "{backend}");
        let stale = s
            .update(
                &q.id,
                updated.spec.clone(),
                &refs,
                Some(1),
                &Actor::system(),
            )
            .await;
        assert!(
            matches!(stale, Err(StoreError::Conflict { ref field, .. }) if field == "version"),
            "{backend}"
        );

        s.delete::<Queue>(&q.id, &Actor::system()).await.unwrap();
        assert!(s.get::<Queue>(&q.id).await.unwrap().is_none(), "{backend}");
        assert!(
            matches!(
                s.delete::<Queue>(&q.id, &Actor::system()).await,
                Err(StoreError::NotFound)
            ),
            "{backend}"
        );
    }
}

#[tokio::test]
async fn duplicate_names_conflict_case_insensitively() {
    for (backend, db) in stores().await {
        let s = &db.store;
        create(s, always_open("Basic Hours", "UTC")).await.unwrap();
        let err = create(s, always_open("basic hours", "UTC"))
            .await
            .unwrap_err();
        match err {
            StoreError::Conflict { field, reason } => {
                assert_eq!(field, "name", "{backend}");
                assert!(reason.contains("already exists"), "{backend}: {reason}");
            }
            other => panic!("{backend}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_queue_used_by_a_routing_profile_cannot_be_deleted() {
    for (backend, db) in stores().await {
        let s = &db.store;
        let hours = create(s, always_open("Basic Hours", "UTC")).await.unwrap();
        let sales = create(s, queue("Sales", &hours.id)).await.unwrap();
        let profile = create(
            s,
            RoutingProfile {
                name: "Sales agents".into(),
                description: String::new(),
                media_concurrencies: vec![MediaConcurrency {
                    channel: Channel::Voice,
                    concurrency: 1,
                    cross_channel_behavior: CrossChannelBehavior::RouteCurrentChannelOnly,
                }],
                queue_configs: vec![RoutingProfileQueue {
                    queue: sales.id.clone(),
                    channel: Channel::Voice,
                    priority: 1,
                    delay: 0,
                }],
                default_outbound_queue: sales.id.clone(),
            },
        )
        .await
        .unwrap();

        let err = s
            .delete::<Queue>("Sales", &Actor::system())
            .await
            .unwrap_err();
        match err {
            StoreError::Conflict { reason, .. } => {
                assert!(
                    reason.contains("routing profile 'Sales agents'"),
                    "{backend}: {reason}"
                );
            }
            other => panic!("{backend}: {other:?}"),
        }
        // Hours are used by the queue, too.
        assert!(
            s.delete::<HoursOfOperation>(&hours.id, &Actor::system())
                .await
                .is_err(),
            "{backend}"
        );
        let referrers = s.referrers(&sales.id).await.unwrap();
        assert_eq!(
            referrers.len(),
            2,
            "{backend}: default outbound queue and queue config"
        );

        // Once the profile is gone, the queue can go.
        s.delete::<RoutingProfile>(&profile.id, &Actor::system())
            .await
            .unwrap();
        s.delete::<Queue>(&sales.id, &Actor::system())
            .await
            .unwrap();
        s.delete::<HoursOfOperation>(&hours.id, &Actor::system())
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn a_reference_to_a_missing_object_is_refused_by_the_database() {
    for (backend, db) in stores().await {
        let err = create(&db.store, queue("Orphan", "no-such-hours"))
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Conflict { .. }),
            "{backend}: {err:?}"
        );
    }
}

#[tokio::test]
async fn builtin_objects_cannot_be_deleted() {
    for (backend, db) in stores().await {
        let s = &db.store;
        let h = s
            .create(
                always_open("Basic Hours", "UTC"),
                &[],
                true,
                &Actor::system(),
            )
            .await
            .unwrap();
        assert!(h.builtin);
        let err = s
            .delete::<HoursOfOperation>(&h.id, &Actor::system())
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Conflict { .. }), "{backend}");
    }
}

#[tokio::test]
async fn every_change_is_audited_with_before_and_after() {
    for (backend, db) in stores().await {
        let s = &db.store;
        let actor = Actor {
            user_id: Some("u1".into()),
            name: "jane".into(),
            via: "session".into(),
        };
        let mut h = always_open("Hours", "UTC");
        let rec = s.create(h.clone(), &[], false, &actor).await.unwrap();
        h.time_zone = "Europe/London".into();
        s.update(&rec.id, h, &[], None, &actor).await.unwrap();
        s.delete::<HoursOfOperation>(&rec.id, &actor).await.unwrap();

        let log = s
            .audit_log(&AuditQuery {
                object_id: Some(rec.id.clone()),
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        let actions: Vec<_> = log.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(
            actions,
            ["delete", "update", "create"],
            "{backend}: newest first"
        );
        let update = &log[1];
        assert_eq!(update.actor_name, "jane");
        assert_eq!(
            update.before.as_ref().unwrap()["time_zone"],
            "UTC",
            "{backend}"
        );
        assert_eq!(
            update.after.as_ref().unwrap()["time_zone"],
            "Europe/London",
            "{backend}"
        );
        // Paging: older than the newest entry.
        let older = s
            .audit_log(&AuditQuery {
                before_seq: Some(log[0].seq),
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(older.len(), 2, "{backend}");
    }
}

#[tokio::test]
async fn data_survives_reopening_the_database() {
    for (backend, db) in stores().await {
        let id = create(&db.store, always_open("Basic Hours", "UTC"))
            .await
            .unwrap()
            .id;
        db.store.close().await;
        let reopened = Store::connect(&db.url).await.unwrap();
        let h = reopened.get::<HoursOfOperation>(&id).await.unwrap();
        assert_eq!(h.unwrap().spec.name, "Basic Hours", "{backend}");
    }
}

#[tokio::test]
async fn sessions_expire_and_api_keys_are_found_by_hash() {
    use chrono::{Duration, Utc};
    for (backend, db) in stores().await {
        let s = &db.store;
        let user = create(s, always_open("stand-in for a user row", "UTC"))
            .await
            .unwrap();
        s.create_session("live", &user.id, Utc::now() + Duration::hours(1))
            .await
            .unwrap();
        s.create_session("dead", &user.id, Utc::now() - Duration::seconds(1))
            .await
            .unwrap();
        assert_eq!(
            s.session("live").await.unwrap().unwrap().user_id,
            user.id,
            "{backend}"
        );
        assert!(s.session("dead").await.unwrap().is_none(), "{backend}");

        let key = s.create_api_key("ci", "hash-1", &user.id).await.unwrap();
        assert!(matches!(
            s.create_api_key("ci", "hash-2", &user.id).await,
            Err(StoreError::Conflict { .. })
        ));
        let used = s.use_api_key("hash-1").await.unwrap().unwrap();
        assert_eq!(used.id, key.id, "{backend}");
        assert!(
            s.api_keys(Some(&user.id)).await.unwrap()[0]
                .last_used_at
                .is_some(),
            "{backend}"
        );
        s.delete_api_key(&key.id).await.unwrap();
        assert!(
            s.use_api_key("hash-1").await.unwrap().is_none(),
            "{backend}"
        );

        // Deleting the owner ends its sessions with it.
        s.delete::<HoursOfOperation>(&user.id, &Actor::system())
            .await
            .unwrap();
        assert!(s.session("live").await.unwrap().is_none(), "{backend}");
    }
}

#[tokio::test]
async fn concurrent_writers_neither_fail_nor_lose_updates() {
    for (backend, db) in stores().await {
        let s = db.store.clone();
        let rec = create(&s, always_open("Busy", "UTC")).await.unwrap();
        let mut tasks = Vec::new();
        for i in 0..16 {
            let (writer, id) = (s.clone(), rec.id.clone());
            tasks.push(tokio::spawn(async move {
                let mut h = always_open("Busy", "UTC");
                h.description = format!("writer {i}");
                writer
                    .update(&id, h, &[], None, &Actor::system())
                    .await
                    .map(|r| r.version)
            }));
            let creator = s.clone();
            tasks.push(tokio::spawn(async move {
                create(&creator, always_open(&format!("New {i}"), "UTC"))
                    .await
                    .map(|r| r.version)
            }));
        }
        let mut versions = Vec::new();
        for (n, t) in tasks.into_iter().enumerate() {
            let v = t
                .await
                .unwrap()
                .unwrap_or_else(|e| panic!("{backend}: writer failed: {e:?}"));
            if n % 2 == 0 {
                versions.push(v);
            }
        }
        versions.sort();
        assert_eq!(
            versions,
            (2..=17).collect::<Vec<_>>(),
            "{backend}: each update got its own version"
        );
        assert_eq!(
            s.get::<HoursOfOperation>(&rec.id)
                .await
                .unwrap()
                .unwrap()
                .version,
            17,
            "{backend}"
        );
        let log = s
            .audit_log(&AuditQuery {
                object_id: Some(rec.id.clone()),
                limit: 100,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(log.len(), 17, "{backend}: one audit row per change");
    }
}

/// Rows written before the time columns existed (row_version 0, columns
/// empty) are filled from their record when the store next opens.
#[tokio::test]
async fn contact_rows_from_before_the_time_columns_are_reindexed_at_start() {
    use chrono::{TimeZone, Utc};
    use sqlx::Connection;
    use switchboard_model::contact_record::AgentInfo;
    use switchboard_model::ContactRecord;
    use switchboard_store::{ContactQuery, ContactTime};

    for (backend, db) in stores().await {
        let at = Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0).unwrap();
        let record = ContactRecord {
            id: "old".into(),
            channel: switchboard_model::contact_record::Channel::Voice,
            initiation_method: switchboard_model::contact_record::InitiationMethod::Inbound,
            initiation_timestamp: at,
            agent: Some(AgentInfo {
                id: "a".into(),
                username: "a".into(),
                connected_to_agent_timestamp: at + chrono::Duration::seconds(30),
                ..Default::default()
            }),
            state: switchboard_model::contact_record::ContactState::Ended,
            ..Default::default()
        };
        db.store.put_contact(&record).await.unwrap();
        let by_agent_time = ContactQuery {
            time: ContactTime::ConnectedToAgent,
            limit: 10,
            ..Default::default()
        };
        let found = db.store.search_contacts(&by_agent_time).await.unwrap();
        assert_eq!(found.items.len(), 1, "{backend}");

        // As an older version left it.
        let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
        sqlx::query("UPDATE contacts SET agent_connected_at = NULL, row_version = 0")
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
        let found = db.store.search_contacts(&by_agent_time).await.unwrap();
        assert!(found.items.is_empty(), "{backend}");

        let reopened = Store::connect(&db.url).await.unwrap();
        let found = reopened.search_contacts(&by_agent_time).await.unwrap();
        assert_eq!(found.items.len(), 1, "{backend}");
        assert_eq!(found.items[0].id, "old", "{backend}");
        let at_ms = (at + chrono::Duration::seconds(30)).timestamp_millis();
        assert_eq!(found.next, None, "{backend}");
        let later = ContactQuery {
            initiated_from: Some(at_ms + 1),
            ..by_agent_time.clone()
        };
        assert!(
            reopened
                .search_contacts(&later)
                .await
                .unwrap()
                .items
                .is_empty(),
            "{backend}"
        );
    }
}

#[tokio::test]
async fn open_contacts_are_found_in_pages_until_closed() {
    use switchboard_model::contact_record::ContactState;
    use switchboard_model::ContactRecord;
    for (backend, db) in stores().await {
        for (id, state) in [
            ("a", ContactState::InFlow),
            ("b", ContactState::Ended),
            ("c", ContactState::Queued),
            ("d", ContactState::Connected),
            ("e", ContactState::Ended),
        ] {
            let record = ContactRecord {
                id: id.into(),
                channel: switchboard_model::contact_record::Channel::Voice,
                state,
                ..Default::default()
            };
            db.store.put_contact(&record).await.unwrap();
        }
        let ids = |page: Vec<ContactRecord>| page.into_iter().map(|r| r.id).collect::<Vec<_>>();
        assert_eq!(
            ids(db.store.open_contacts("", 2).await.unwrap()),
            ["a", "c"],
            "{backend}"
        );
        assert_eq!(
            ids(db.store.open_contacts("c", 2).await.unwrap()),
            ["d"],
            "{backend}"
        );
        let mut d = db.store.get_contact("d").await.unwrap().unwrap();
        d.state = switchboard_model::contact_record::ContactState::Ended;
        db.store.put_contact(&d).await.unwrap();
        assert_eq!(
            ids(db.store.open_contacts("", 10).await.unwrap()),
            ["a", "c"],
            "{backend}"
        );
    }
}

#[tokio::test]
async fn registrations_outlive_the_process_until_they_expire() {
    use switchboard_store::Registration;
    for (backend, db) in stores().await {
        // Whole milliseconds, as the store keeps them.
        let now =
            chrono::DateTime::from_timestamp_millis(chrono::Utc::now().timestamp_millis()).unwrap();
        let phone = |user: &str, secs: i64| Registration {
            username: user.into(),
            device: "uri:desk".into(),
            contact: format!("sip:{user}@192.0.2.10:5062"),
            source: "192.0.2.10:5062".into(),
            transport: "UDP".into(),
            expires_at: now + chrono::Duration::seconds(secs),
        };
        db.store.put_registration(&phone("ana", 600)).await.unwrap();
        db.store.put_registration(&phone("bo", -1)).await.unwrap();
        let mut moved = phone("ana", 900);
        moved.source = "198.51.100.7:40000".into();
        db.store.put_registration(&moved).await.unwrap();
        db.store.put_registration(&phone("cy", 60)).await.unwrap();
        db.store
            .delete_registration("cy", "uri:desk")
            .await
            .unwrap();
        // A second device of the same user is a second registration.
        let mut second = phone("ana", 300);
        second.device = "instance:<urn:uuid:2>".into();
        second.transport = "TCP".into();
        db.store.put_registration(&second).await.unwrap();
        let live = db.store.live_registrations(now).await.unwrap();
        assert_eq!(live.len(), 2, "{backend}: {live:?}");
        assert_eq!(live[0], second, "{backend}: soonest expiry first");
        assert_eq!(live[1].source, "198.51.100.7:40000", "{backend}");
        assert_eq!(
            live[1].expires_at.timestamp_millis(),
            moved.expires_at.timestamp_millis()
        );
        db.store
            .delete_registration("ana", "uri:desk")
            .await
            .unwrap();
        assert_eq!(
            db.store.live_registrations(now).await.unwrap(),
            vec![second]
        );
    }
}
