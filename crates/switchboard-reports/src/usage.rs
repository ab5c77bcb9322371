//! Usage and cost: what a contact centre would see on a pay-as-you-go bill.
//!
//! Metered, as Amazon Connect meters them:
//! - **voice service minutes**: the whole contact, from Switchboard
//!   answering (or placing) the call to its end;
//! - **telephony minutes per leg**: the customer's leg, inbound on one of
//!   our numbers (priced by that number's country and type) or outbound
//!   (priced by the country called); a third party the call was
//!   transferred to, outbound from their answer to the end; an agent
//!   reached on an external number, outbound while they were connected;
//! - **chat messages**: every message in the transcript;
//! - **number-days**: each calendar day (UTC) a number was ours at some
//!   moment, released numbers included, once per day however often it was
//!   released and claimed again.
//!
//! Minutes are counted to the second (a 10-minute call is 10.0 minutes).
//! Usage the rate card has no price for is reported as unrated rather than
//! silently free.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use switchboard_model::contact_record::{Channel, InitiationMethod};
use switchboard_model::objects::phone_number::{parse_e164, PhoneNumberType};
use switchboard_model::ContactRecord;
use utoipa::ToSchema;

/// Prices, in the card's currency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RateCard {
    pub currency: String,
    pub voice_service_per_minute: f64,
    pub chat_per_message: f64,
    /// Telephony by the number's country (ISO 3166, `*` for any) and type.
    pub numbers: Vec<NumberRate>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NumberRate {
    /// ISO 3166 code such as `GB`, or `*` for every country not listed.
    pub country: String,
    pub number_type: PhoneNumberType,
    /// A caller reaching one of our numbers of this kind.
    pub inbound_per_minute: Option<f64>,
    /// Calling out to a number of this kind in this country.
    pub outbound_per_minute: Option<f64>,
    /// Keeping one of our numbers of this kind for a day.
    pub per_day: Option<f64>,
}

impl Default for RateCard {
    /// Amazon Connect's public UK rates (PRODUCT.md, capability 11) and
    /// its chat price. Anything else is unrated until configured.
    fn default() -> Self {
        RateCard {
            currency: "USD".into(),
            voice_service_per_minute: 0.0018,
            chat_per_message: 0.004,
            numbers: vec![NumberRate {
                country: "GB".into(),
                number_type: PhoneNumberType::Did,
                inbound_per_minute: Some(0.004),
                outbound_per_minute: None,
                per_day: Some(0.03),
            }],
        }
    }
}

impl RateCard {
    /// Every problem, by field.
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut errors = Vec::new();
        let mut check = |field: String, v: Option<f64>| {
            if let Some(v) = v {
                if !v.is_finite() || v < 0.0 {
                    errors.push((field, format!("must be a price of 0 or more, got {v}")));
                }
            }
        };
        check(
            "voice_service_per_minute".into(),
            Some(self.voice_service_per_minute),
        );
        check("chat_per_message".into(), Some(self.chat_per_message));
        for (i, n) in self.numbers.iter().enumerate() {
            check(
                format!("numbers[{i}].inbound_per_minute"),
                n.inbound_per_minute,
            );
            check(
                format!("numbers[{i}].outbound_per_minute"),
                n.outbound_per_minute,
            );
            check(format!("numbers[{i}].per_day"), n.per_day);
        }
        for (i, n) in self.numbers.iter().enumerate() {
            let valid = n.country == "*"
                || (n.country.len() == 2 && n.country.chars().all(|c| c.is_ascii_uppercase()));
            if !valid {
                errors.push((
                    format!("numbers[{i}].country"),
                    format!(
                        "must be an ISO 3166 code such as GB, or *; got '{}'",
                        n.country
                    ),
                ));
            }
        }
        if self.currency.trim().is_empty() {
            errors.push(("currency".into(), "is required".into()));
        }
        errors
    }

    /// The rate for a number of `kind` in `country`: the country's own, else `*`.
    fn rate(&self, country: &str, kind: PhoneNumberType) -> Option<&NumberRate> {
        let of = |c: &str| {
            self.numbers
                .iter()
                .find(|n| n.country == c && n.number_type == kind)
        };
        of(country).or_else(|| of("*"))
    }
}

/// One of our numbers, as the bill needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct OwnedNumber {
    pub number: String,
    pub country: String,
    pub number_type: PhoneNumberType,
    /// Each stretch it was ours: claimed, and released (`None`: still ours).
    /// A number released and claimed again has several.
    pub held: Vec<Held>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Held {
    pub claimed_at: DateTime<Utc>,
    pub released_at: Option<DateTime<Utc>>,
}

impl OwnedNumber {
    /// The calendar days (UTC) of `[from, to)` on which the number was ours
    /// at some moment: each is billed once, however many claims touch it.
    pub fn days(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> std::collections::BTreeSet<NaiveDate> {
        let mut days = std::collections::BTreeSet::new();
        for h in &self.held {
            let start = h.claimed_at.max(from);
            let end = h.released_at.map_or(to, |r| r.min(to));
            if start >= end {
                continue;
            }
            // Both ends inclusive of the day they fall in; `end` is exclusive.
            let mut date = start.date_naive();
            let last = (end - Duration::milliseconds(1)).date_naive();
            while date <= last {
                days.insert(date);
                match date.succ_opt() {
                    Some(next) => date = next,
                    None => break,
                }
            }
        }
        days
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Direction {
    Inbound,
    Outbound,
}

/// Telephony minutes on one leg.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Leg {
    pub direction: Direction,
    /// The number that prices it: ours (inbound) or the one called (outbound).
    pub number: String,
    pub country: String,
    pub number_type: PhoneNumberType,
    pub minutes: f64,
}

/// What one contact used.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ContactUsage {
    pub contact: String,
    pub channel: switchboard_model::contact_record::Channel,
    pub service_minutes: f64,
    pub legs: Vec<Leg>,
    pub chat_messages: u64,
}

/// What it costs; `unrated` names usage the card has no price for.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct Cost {
    pub service: f64,
    pub telephony: f64,
    pub chat: f64,
    pub numbers: f64,
    pub total: f64,
    pub unrated: Vec<String>,
}

impl Cost {
    fn add(&mut self, other: &Cost) {
        self.service += other.service;
        self.telephony += other.telephony;
        self.chat += other.chat;
        self.numbers += other.numbers;
        self.total += other.total;
        for u in &other.unrated {
            if !self.unrated.contains(u) {
                self.unrated.push(u.clone());
            }
        }
    }
}

fn minutes_between(a: DateTime<Utc>, b: DateTime<Utc>) -> f64 {
    (b - a).num_milliseconds().max(0) as f64 / 60_000.0
}

/// The usage of one contact record. `numbers` are ours, by E.164; a
/// contact still going is metered up to `now`.
pub fn usage_of(
    record: &ContactRecord,
    numbers: &HashMap<String, OwnedNumber>,
    now: DateTime<Utc>,
) -> ContactUsage {
    let mut usage = ContactUsage {
        contact: record.id.clone(),
        channel: record.channel,
        service_minutes: 0.0,
        legs: vec![],
        chat_messages: 0,
    };
    if record.channel == Channel::Chat {
        usage.chat_messages = record.transcript.as_ref().map_or(0, |t| t.message_count);
        return usage;
    }
    let start = record
        .connected_to_system_timestamp
        .unwrap_or(record.initiation_timestamp);
    let end = record.disconnect_timestamp.unwrap_or(now);
    let minutes = minutes_between(start, end);
    usage.service_minutes = minutes;
    if record.initiation_method == InitiationMethod::Outbound {
        usage
            .legs
            .push(outbound_leg(&record.customer_endpoint.address, minutes));
    } else if let Some(ours) = numbers.get(&record.system_endpoint.address) {
        usage.legs.push(Leg {
            direction: Direction::Inbound,
            number: ours.number.clone(),
            country: ours.country.clone(),
            number_type: ours.number_type,
            minutes,
        });
    }
    if let (Some(to), Some(answered)) = (
        &record.transferred_to_endpoint,
        record.transfer_completed_timestamp,
    ) {
        let hung_up = record.third_party_disconnect_timestamp.unwrap_or(end);
        usage.legs.push(outbound_leg(
            &to.address,
            minutes_between(answered, hung_up),
        ));
    }
    if let Some(agent) = &record.agent {
        if let Some(number) = &agent.external_number {
            let talked = agent.talk_duration_seconds + agent.hold_duration_seconds;
            // Talk and hold are known once the agent's part is over; until
            // then the leg runs to now (or the end).
            let minutes = if talked > 0.0 {
                talked / 60.0
            } else {
                minutes_between(agent.connected_to_agent_timestamp, end)
            };
            usage.legs.push(outbound_leg(number, minutes));
        }
    }
    usage
}

/// A call Switchboard placed to `number`, priced by the country called.
fn outbound_leg(number: &str, minutes: f64) -> Leg {
    let (country, number_type) = match parse_e164(number) {
        Ok(e) => (e.country_code, e.number_type),
        Err(_) => (String::new(), PhoneNumberType::Did),
    };
    Leg {
        direction: Direction::Outbound,
        number: number.to_string(),
        country,
        number_type,
        minutes,
    }
}

/// What `usage` costs on `card`.
pub fn cost_of(usage: &ContactUsage, card: &RateCard) -> Cost {
    let mut cost = Cost {
        service: usage.service_minutes * card.voice_service_per_minute,
        chat: usage.chat_messages as f64 * card.chat_per_message,
        ..Default::default()
    };
    for leg in &usage.legs {
        let rate = card
            .rate(&leg.country, leg.number_type)
            .and_then(|r| match leg.direction {
                Direction::Inbound => r.inbound_per_minute,
                Direction::Outbound => r.outbound_per_minute,
            });
        match rate {
            Some(r) => cost.telephony += leg.minutes * r,
            None => cost.unrated.push(format!(
                "{} minutes on {} numbers in {}",
                match leg.direction {
                    Direction::Inbound => "inbound",
                    Direction::Outbound => "outbound",
                },
                match leg.number_type {
                    PhoneNumberType::Did => "DID",
                    PhoneNumberType::TollFree => "toll-free",
                },
                if leg.country.is_empty() {
                    "an unknown country"
                } else {
                    &leg.country
                }
            )),
        }
    }
    cost.total = cost.service + cost.telephony + cost.chat;
    cost
}

/// The calendar days (UTC) of `[from, to)` a number held from `claimed_at`
/// until `released_at` (if released) is billed for.
pub fn number_days(
    claimed_at: DateTime<Utc>,
    released_at: Option<DateTime<Utc>>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> u64 {
    OwnedNumber {
        number: String::new(),
        country: String::new(),
        number_type: PhoneNumberType::Did,
        held: vec![Held {
            claimed_at,
            released_at,
        }],
    }
    .days(from, to)
    .len() as u64
}

/// One day of a bill.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Day {
    pub date: NaiveDate,
    pub contacts: u64,
    pub voice_minutes: f64,
    pub chat_messages: u64,
    pub number_days: u64,
    pub cost: Cost,
}

/// A bill for a period, by day and by number.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Bill {
    pub currency: String,
    pub days: Vec<Day>,
    /// Per number: telephony of the contacts on it plus its days.
    pub numbers: BTreeMap<String, Cost>,
    pub total: Cost,
}

/// The bill for contacts initiated in `[from, to)` and numbers held then.
pub fn bill(
    records: &[ContactRecord],
    numbers: &HashMap<String, OwnedNumber>,
    card: &RateCard,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Bill {
    let mut days: BTreeMap<NaiveDate, Day> = BTreeMap::new();
    let mut per_number: BTreeMap<String, Cost> = BTreeMap::new();
    let blank = |date| Day {
        date,
        contacts: 0,
        voice_minutes: 0.0,
        chat_messages: 0,
        number_days: 0,
        cost: Cost::default(),
    };
    for r in records
        .iter()
        .filter(|r| r.initiation_timestamp >= from && r.initiation_timestamp < to)
    {
        let usage = usage_of(r, numbers, now);
        let cost = cost_of(&usage, card);
        let date = r.initiation_timestamp.date_naive();
        let day = days.entry(date).or_insert_with(|| blank(date));
        day.contacts += 1;
        day.voice_minutes += usage.service_minutes;
        day.chat_messages += usage.chat_messages;
        day.cost.add(&cost);
        for leg in usage
            .legs
            .iter()
            .filter(|l| numbers.contains_key(&l.number))
        {
            let one = cost_of(
                &ContactUsage {
                    legs: vec![leg.clone()],
                    service_minutes: 0.0,
                    chat_messages: 0,
                    ..usage.clone()
                },
                card,
            );
            per_number.entry(leg.number.clone()).or_default().add(&one);
        }
    }
    for n in numbers.values() {
        let held = n.days(from, to);
        if held.is_empty() {
            continue;
        }
        let Some(rate) = card.rate(&n.country, n.number_type).and_then(|r| r.per_day) else {
            per_number
                .entry(n.number.clone())
                .or_default()
                .unrated
                .push(format!("days of {} ({})", n.number, n.country));
            continue;
        };
        for date in held {
            let day = days.entry(date).or_insert_with(|| blank(date));
            day.number_days += 1;
            let c = Cost {
                numbers: rate,
                total: rate,
                ..Default::default()
            };
            day.cost.add(&c);
            per_number.entry(n.number.clone()).or_default().add(&c);
        }
    }
    let mut total = Cost::default();
    for d in days.values() {
        total.add(&d.cost);
    }
    for c in per_number.values() {
        for u in &c.unrated {
            if !total.unrated.contains(u) {
                total.unrated.push(u.clone());
            }
        }
    }
    Bill {
        currency: card.currency.clone(),
        days: days.into_values().collect(),
        numbers: per_number,
        total,
    }
}
