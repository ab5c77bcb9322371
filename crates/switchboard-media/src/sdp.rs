//! RFC 3264 offer/answer for one G.711 audio stream, on `sdp-types`.
//!
//! We offer PCMU, PCMA and telephone-event (RFC 4733) and answer with the
//! first G.711 law the peer listed; anything else (video, other codecs) is
//! declined by setting its port to 0, as RFC 3264 section 6 asks. An
//! `RTP/SAVP` offer is answered in kind, with one of its `a=crypto` keys
//! taken and ours given ([`crate::sdes`], RFC 4568).

use std::net::{IpAddr, SocketAddr};

use sdp_types::{Attribute, Connection, Media, Origin, Session, Time};

use crate::g711::Law;
use crate::sdes::{Agreement, Crypto, KEY_SALT_LEN};

/// Why an SDP body cannot be used for a call (its text goes into a 488's
/// Warning header).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdpError {
    /// Not SDP at all, as the parser says.
    #[error("SDP: {0}")]
    Syntax(String),
    /// No `m=audio` line with a port other than 0.
    #[error("SDP: no audio stream")]
    NoAudio,
    /// Neither the audio stream nor the session has a `c=` line.
    #[error("SDP: the audio stream has no connection address (c=)")]
    NoConnection,
    /// The `c=` address is a host name or garbage.
    #[error("SDP: '{0}' is not an IP address")]
    NotAnAddress(String),
    /// The stream is `RTP/SAVP` and none of its `a=crypto` lines is one we
    /// can honour (see [`crate::sdes`]).
    #[error("SDP: SRTP with no key we can use (a=crypto with AES_CM_128_HMAC_SHA1_80 or _32, one inline key, no MKI)")]
    NoCrypto,
    /// The audio stream offers neither PCMU, PCMA nor G.722.
    #[error("SDP: the offer has no codec we speak (PCMU, PCMA or G722)")]
    NoG711,
    /// The audio is at an address of the other IP family than ours: no
    /// packet could go either way (ours: the media address in use).
    #[error("SDP: the audio is at an {theirs} address and our media address is {ours}")]
    OtherFamily {
        /// `IPv4` or `IPv6`: theirs.
        theirs: &'static str,
        /// `IPv4` or `IPv6`: ours.
        ours: &'static str,
    },
}

fn family(ip: IpAddr) -> &'static str {
    match ip {
        IpAddr::V4(_) => "IPv4",
        IpAddr::V6(_) => "IPv6",
    }
}

/// The payload type we use for telephone-events in our own offers.
pub const EVENT_PAYLOAD_TYPE: u8 = 101;

/// Which way audio flows, from the describing side's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// `a=sendrecv`: audio both ways; assumed when the SDP names no direction.
    SendRecv,
    /// `a=sendonly`: it sends but will not receive.
    SendOnly,
    /// `a=recvonly`: it receives but will not send.
    RecvOnly,
    /// `a=inactive`: no audio either way (also how a `c=0.0.0.0` address is read).
    Inactive,
}

impl Direction {
    fn attribute(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    /// What the answerer says to this offer.
    pub fn reversed(self) -> Direction {
        match self {
            Direction::SendOnly => Direction::RecvOnly,
            Direction::RecvOnly => Direction::SendOnly,
            d => d,
        }
    }

    /// The peer has put us on hold (RFC 3264 section 8.4, and the old
    /// `c=0.0.0.0` way, which `RemoteAudio::parse` maps to Inactive).
    pub fn is_hold(self) -> bool {
        matches!(self, Direction::SendOnly | Direction::Inactive)
    }
}

/// The peer's audio stream, from its offer or answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteAudio {
    /// Where the peer wants our RTP.
    pub addr: SocketAddr,
    /// The G.711 laws it accepts, in its order of preference.
    pub laws: Vec<Law>,
    /// The payload type it gave each of `laws` (static 0/8, or dynamic).
    pub law_payload_types: Vec<u8>,
    /// The payload type it gave `telephone-event/8000` (RFC 4733; the last, if
    /// several); `None` if it listed none.
    pub event_payload_type: Option<u8>,
    /// The payload type it gave G.722 (`G722/8000`, or static 9), if listed.
    pub g722_payload_type: Option<u8>,
    /// Its direction attribute (media level, else session level, else sendrecv);
    /// Inactive when its connection address is 0.0.0.0 or `::`.
    pub direction: Direction,
    /// Where the peer wants RTCP when not on the next port (RFC 3605 `a=rtcp`).
    pub rtcp_port: Option<u16>,
    /// The packet time it wants to receive, in ms (`a=ptime`, media level
    /// else session level).
    pub ptime: Option<u32>,
    /// Its audio is SRTP (`RTP/SAVP`, keys by SDES).
    pub secure: bool,
    /// Its `a=crypto` lines we can honour, in its order of preference.
    pub crypto: Vec<Crypto>,
    /// Which m= line is the audio (an answer needs one m= per offered m=).
    media_index: usize,
    /// Every offered m= line's media, protocol and formats, to decline the
    /// others in kind (RFC 3264 section 6).
    lines: Vec<(String, String, String)>,
}

/// What both sides agreed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    /// The G.711 law used both ways: the first the peer listed. When the
    /// wire carries G.722 (`g722`), the law the leg turns it into for the
    /// call.
    pub law: Law,
    /// The wire carries G.722 (a peer that offered no G.711).
    pub g722: bool,
    /// The number both sides use for `law` (the offerer's choice).
    pub payload_type: u8,
    /// The telephone-event payload type from the peer's SDP; `None` if it listed none.
    pub event_payload_type: Option<u8>,
    /// The audio is SRTP, with these keys.
    pub srtp: Option<Agreement>,
}

impl RemoteAudio {
    /// Reads the peer's SDP (offer or answer): its first audio m= line with a
    /// non-zero port. An error if the SDP does not parse, has no such line, or gives
    /// no usable connection address. No G.711 codec is not an error here (`laws` is
    /// then empty); `answer` and `negotiated` refuse it.
    pub fn parse(body: &[u8]) -> Result<RemoteAudio, SdpError> {
        let session = Session::parse(body).map_err(|e| SdpError::Syntax(e.to_string()))?;
        let lines = session
            .medias
            .iter()
            .map(|m| (m.media.clone(), m.proto.clone(), m.fmt.clone()))
            .collect();
        let (media_index, media) = session
            .medias
            .iter()
            .enumerate()
            .find(|(_, m)| m.media == "audio" && m.port != 0)
            .ok_or(SdpError::NoAudio)?;
        let connection = media
            .connections
            .first()
            .or(session.connection.as_ref())
            .ok_or(SdpError::NoConnection)?;
        let ip: IpAddr = connection
            .connection_address
            .split('/')
            .next()
            .unwrap_or_default()
            .parse()
            .map_err(|_| SdpError::NotAnAddress(connection.connection_address.clone()))?;
        let mut laws = Vec::new();
        let mut law_payload_types = Vec::new();
        let mut event_payload_type = None;
        let mut g722_payload_type = None;
        for fmt in media.fmt.split_whitespace() {
            let Ok(pt) = fmt.parse::<u8>() else { continue };
            match rtpmap(media, pt).as_deref() {
                Some(name) if name.eq_ignore_ascii_case("telephone-event/8000") => {
                    event_payload_type = Some(pt)
                }
                Some(name) if name.eq_ignore_ascii_case("G722/8000") => {
                    g722_payload_type = g722_payload_type.or(Some(pt))
                }
                None if pt == crate::g722::PAYLOAD_TYPE => {
                    g722_payload_type = g722_payload_type.or(Some(pt))
                }
                Some(name) if name.eq_ignore_ascii_case("PCMU/8000") => {
                    laws.push(Law::MuLaw);
                    law_payload_types.push(pt);
                }
                Some(name) if name.eq_ignore_ascii_case("PCMA/8000") => {
                    laws.push(Law::ALaw);
                    law_payload_types.push(pt);
                }
                Some(_) => {}
                // Static payload types need no rtpmap (RFC 3551).
                None => {
                    if let Some(law) = Law::from_payload_type(pt) {
                        laws.push(law);
                        law_payload_types.push(pt);
                    }
                }
            }
        }
        let direction = if ip.is_unspecified() {
            Direction::Inactive
        } else {
            direction_of(&media.attributes)
                .or_else(|| direction_of(&session.attributes))
                .unwrap_or(Direction::SendRecv)
        };
        Ok(RemoteAudio {
            addr: SocketAddr::new(ip, media.port),
            laws,
            law_payload_types,
            event_payload_type,
            g722_payload_type,
            direction,
            rtcp_port: media
                .attributes
                .iter()
                .find(|a| a.attribute == "rtcp")
                .and_then(|a| a.value.as_deref()?.split_whitespace().next()?.parse().ok()),
            ptime: media
                .attributes
                .iter()
                .chain(&session.attributes)
                .find(|a| a.attribute == "ptime")
                .and_then(|a| a.value.as_deref()?.trim().parse().ok()),
            secure: media.proto.eq_ignore_ascii_case("RTP/SAVP"),
            crypto: media
                .attributes
                .iter()
                .filter(|a| a.attribute == "crypto")
                .filter_map(|a| Crypto::parse(a.value.as_deref()?).ok())
                .collect(),
            media_index,
            lines,
        })
    }

    /// Our answer to this offer, sending and receiving at `local`. With
    /// `key` (master key and salt: the signalling is private, so SDES may
    /// be used), an SRTP offer is answered with it as ours, and so is an
    /// `RTP/AVP` offer that carries `a=crypto` lines (best-effort SRTP, as
    /// PBXs offer it); without, an SRTP offer cannot be answered.
    pub fn answer(
        &self,
        local: SocketAddr,
        session_id: u64,
        version: u64,
        key: Option<[u8; KEY_SALT_LEN]>,
    ) -> Result<(Vec<u8>, Negotiated), SdpError> {
        let mut negotiated = self.negotiated()?;
        let crypto = match (key, self.crypto.first()) {
            (Some(key), Some(theirs)) => {
                negotiated.srtp = Some(Agreement {
                    suite: theirs.suite,
                    theirs: theirs.key,
                    ours: key,
                });
                Some(Crypto { key, ..*theirs })
            }
            _ if self.secure => return Err(SdpError::NoCrypto),
            _ => None,
        };
        // 0.0.0.0 or :: (an old-style hold) reaches nothing either way.
        let (theirs, ours) = (self.addr.ip(), local.ip());
        if !theirs.is_unspecified() && theirs.is_ipv4() != ours.is_ipv4() {
            return Err(SdpError::OtherFamily {
                theirs: family(theirs),
                ours: family(ours),
            });
        }
        let mut session = base_session(local.ip(), session_id, version);
        for (index, (media, proto, fmt)) in self.lines.iter().enumerate() {
            if index == self.media_index {
                let codec = match negotiated.g722 {
                    true => ("G722", negotiated.payload_type),
                    false => (negotiated.law.encoding_name(), negotiated.payload_type),
                };
                session.medias.push(audio_media(
                    local,
                    &[codec],
                    self.event_payload_type,
                    self.direction.reversed(),
                    crypto.map(|c| (c, self.secure)),
                ));
            } else {
                // Declined (RFC 3264 section 6): same position, port 0.
                session.medias.push(Media {
                    media: media.clone(),
                    port: 0,
                    num_ports: None,
                    proto: proto.clone(),
                    fmt: fmt.clone(),
                    media_title: None,
                    connections: vec![],
                    bandwidths: vec![],
                    key: None,
                    attributes: vec![],
                });
            }
        }
        Ok((write(&session), negotiated))
    }

    /// What an answer to our offer agreed, when the offer gave `ours` as
    /// our SRTP key: SRTP if the answer gives a key of its own for one of
    /// our suites (an answer `RTP/SAVP` without one is refused).
    pub fn negotiated_with(
        &self,
        ours: Option<[u8; KEY_SALT_LEN]>,
    ) -> Result<Negotiated, SdpError> {
        let mut negotiated = self.negotiated()?;
        match (ours, self.crypto.first()) {
            (Some(ours), Some(theirs)) => {
                negotiated.srtp = Some(Agreement {
                    suite: theirs.suite,
                    theirs: theirs.key,
                    ours,
                })
            }
            _ if self.secure => return Err(SdpError::NoCrypto),
            _ => {}
        }
        Ok(negotiated)
    }

    /// What an answer to our offer agreed.
    pub fn negotiated(&self) -> Result<Negotiated, SdpError> {
        // G.711 when offered at all: the call runs in it, nothing to turn.
        if let Some(law) = self.laws.first().copied() {
            return Ok(Negotiated {
                law,
                g722: false,
                payload_type: self
                    .law_payload_types
                    .first()
                    .copied()
                    .unwrap_or(law.payload_type()),
                event_payload_type: self.event_payload_type,
                srtp: None,
            });
        }
        let payload_type = self.g722_payload_type.ok_or(SdpError::NoG711)?;
        Ok(Negotiated {
            law: Law::MuLaw,
            g722: true,
            payload_type,
            event_payload_type: self.event_payload_type,
            srtp: None,
        })
    }
}

/// Our offer: PCMU and PCMA (in `laws` order) and telephone-events.
pub fn offer(
    local: SocketAddr,
    laws: &[Law],
    direction: Direction,
    session_id: u64,
    version: u64,
) -> Vec<u8> {
    offer_with(local, laws, direction, session_id, version, None)
}

/// [`offer`] with SDES keys: `crypto` in `RTP/SAVP` when `required`
/// (what a leg that is SRTP offers again), else in `RTP/AVP` (best-effort
/// SRTP: a peer without SRTP ignores the line and answers plain RTP).
pub fn offer_with(
    local: SocketAddr,
    laws: &[Law],
    direction: Direction,
    session_id: u64,
    version: u64,
    crypto: Option<(Crypto, bool)>,
) -> Vec<u8> {
    let mut session = base_session(local.ip(), session_id, version);
    // G.711 first (no transcoding); G.722 last, for phones that speak only it.
    let codecs: Vec<(&str, u8)> = laws
        .iter()
        .map(|l| (l.encoding_name(), l.payload_type()))
        .chain([("G722", crate::g722::PAYLOAD_TYPE)])
        .collect();
    session.medias.push(audio_media(
        local,
        &codecs,
        Some(EVENT_PAYLOAD_TYPE),
        direction,
        crypto,
    ));
    write(&session)
}

fn base_session(ip: IpAddr, session_id: u64, version: u64) -> Session {
    let mut origin = Origin::with_ip_addr(session_id, version, ip);
    origin.set_username("switchboard");
    Session {
        origin,
        session_name: "switchboard".into(),
        session_description: None,
        uri: None,
        emails: vec![],
        phones: vec![],
        connection: Some(Connection::from_ip_addr(ip)),
        bandwidths: vec![],
        times: vec![Time::new(0, 0)],
        time_zones: vec![],
        key: None,
        attributes: vec![],
        medias: vec![],
    }
}

fn audio_media(
    local: SocketAddr,
    codecs: &[(&str, u8)],
    event: Option<u8>,
    direction: Direction,
    crypto: Option<(Crypto, bool)>,
) -> Media {
    let mut fmt: Vec<String> = codecs.iter().map(|(_, pt)| pt.to_string()).collect();
    let mut attributes: Vec<Attribute> = codecs
        .iter()
        .map(|(name, pt)| attr("rtpmap", Some(format!("{pt} {name}/8000"))))
        .collect();
    if let Some(pt) = event {
        fmt.push(pt.to_string());
        attributes.push(attr("rtpmap", Some(format!("{pt} telephone-event/8000"))));
        attributes.push(attr("fmtp", Some(format!("{pt} 0-16"))));
    }
    attributes.push(attr("ptime", Some("20".into())));
    attributes.push(attr(direction.attribute(), None));
    let proto = match &crypto {
        Some((c, required)) => {
            attributes.push(attr("crypto", Some(c.value())));
            if *required {
                "RTP/SAVP"
            } else {
                "RTP/AVP"
            }
        }
        None => "RTP/AVP",
    };
    Media {
        media: "audio".into(),
        port: local.port(),
        num_ports: None,
        proto: proto.into(),
        fmt: fmt.join(" "),
        media_title: None,
        connections: vec![],
        bandwidths: vec![],
        key: None,
        attributes,
    }
}

fn attr(name: &str, value: Option<String>) -> Attribute {
    Attribute {
        attribute: name.into(),
        value,
    }
}

fn write(session: &Session) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = session.write(&mut out);
    out
}

fn rtpmap(media: &Media, pt: u8) -> Option<String> {
    media.attributes.iter().find_map(|a| {
        let value = a.value.as_deref()?;
        let (number, name) = value.split_once(' ')?;
        (a.attribute == "rtpmap" && number.trim().parse::<u8>().ok()? == pt)
            .then(|| name.trim().to_string())
    })
}

fn direction_of(attributes: &[Attribute]) -> Option<Direction> {
    attributes.iter().find_map(|a| match a.attribute.as_str() {
        "sendrecv" => Some(Direction::SendRecv),
        "sendonly" => Some(Direction::SendOnly),
        "recvonly" => Some(Direction::RecvOnly),
        "inactive" => Some(Direction::Inactive),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIPP_OFFER: &str = "v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n";

    #[test]
    fn an_srtp_offer_is_answered_in_kind_with_one_of_its_keys_and_ours() {
        let key = "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz";
        let offer = SIPP_OFFER.replace("RTP/AVP", "RTP/SAVP")
            + "a=crypto:1 AES_256_CM_HMAC_SHA1_80 inline:bm9wZQ==\r\n"
            + &format!("a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:{key}|2^31\r\n")
            + &format!("a=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:{key}\r\n");
        let remote = RemoteAudio::parse(offer.as_bytes()).unwrap();
        assert!(remote.secure);
        assert_eq!(remote.crypto.len(), 2, "the AES-256 line is passed over");
        let (answer, negotiated) = remote
            .answer("127.0.0.1:20000".parse().unwrap(), 1, 1, Some([7; 30]))
            .unwrap();
        let text = String::from_utf8(answer).unwrap();
        assert!(text.contains("m=audio 20000 RTP/SAVP 8 101"), "{text}");
        // Its first line we can honour: tag 2, the 32-bit tag suite, our key.
        let ours = crate::sdes::Crypto {
            tag: 2,
            suite: crate::sdes::Suite::AesCm128HmacSha1_32,
            key: [7; 30],
        };
        assert!(
            text.contains(&format!("a=crypto:{}", ours.value())),
            "{text}"
        );
        let srtp = negotiated.srtp.unwrap();
        assert_eq!(srtp.suite, crate::sdes::Suite::AesCm128HmacSha1_32);
        assert_eq!((srtp.theirs, srtp.ours), (remote.crypto[0].key, [7; 30]));
        // No key we can use: refused, saying so.
        let unusable = SIPP_OFFER.replace("RTP/AVP", "RTP/SAVP");
        let remote = RemoteAudio::parse(unusable.as_bytes()).unwrap();
        assert_eq!(
            remote.answer("127.0.0.1:20000".parse().unwrap(), 1, 1, Some([7; 30])),
            Err(SdpError::NoCrypto)
        );
        // Without private signalling (no key to give), SRTP cannot be answered.
        let remote = RemoteAudio::parse(offer.as_bytes()).unwrap();
        assert_eq!(
            remote.answer("127.0.0.1:20000".parse().unwrap(), 1, 1, None),
            Err(SdpError::NoCrypto)
        );
        // Best effort: keys in RTP/AVP are taken in RTP/AVP, or ignored
        // without private signalling.
        let hopeful = offer.replace("RTP/SAVP", "RTP/AVP");
        let remote = RemoteAudio::parse(hopeful.as_bytes()).unwrap();
        let (answer, negotiated) = remote
            .answer("127.0.0.1:20000".parse().unwrap(), 1, 1, Some([7; 30]))
            .unwrap();
        let text = String::from_utf8(answer).unwrap();
        assert!(
            text.contains("RTP/AVP 8 101") && text.contains("a=crypto:2"),
            "{text}"
        );
        assert!(negotiated.srtp.is_some());
        let (answer, negotiated) = remote
            .answer("127.0.0.1:20000".parse().unwrap(), 1, 1, None)
            .unwrap();
        assert!(negotiated.srtp.is_none());
        assert!(!String::from_utf8(answer).unwrap().contains("crypto"));
        // Our best-effort offer, and the answers to it.
        let ours = crate::sdes::Crypto {
            tag: 1,
            suite: crate::sdes::Suite::AesCm128HmacSha1_80,
            key: [5; 30],
        };
        let offer = offer_with(
            "127.0.0.1:4000".parse().unwrap(),
            &[Law::MuLaw],
            Direction::SendRecv,
            1,
            1,
            Some((ours, false)),
        );
        let text = String::from_utf8(offer).unwrap();
        assert!(
            text.contains("m=audio 4000 RTP/AVP")
                && text.contains("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:"),
            "{text}"
        );
        let keyed = RemoteAudio::parse(text.as_bytes()).unwrap();
        let agreed = keyed.negotiated_with(Some([5; 30])).unwrap().srtp.unwrap();
        assert_eq!((agreed.theirs, agreed.ours), ([5; 30], [5; 30]));
        let plain = RemoteAudio::parse(SIPP_OFFER.as_bytes()).unwrap();
        assert!(plain.negotiated_with(Some([5; 30])).unwrap().srtp.is_none());
        let unkeyed = SIPP_OFFER.replace("RTP/AVP", "RTP/SAVP");
        assert_eq!(
            RemoteAudio::parse(unkeyed.as_bytes())
                .unwrap()
                .negotiated_with(Some([5; 30])),
            Err(SdpError::NoCrypto)
        );
        // A plain offer gets a plain answer, whatever key the leg has.
        let plain = RemoteAudio::parse(SIPP_OFFER.as_bytes()).unwrap();
        let (answer, negotiated) = plain
            .answer("127.0.0.1:20000".parse().unwrap(), 1, 1, Some([7; 30]))
            .unwrap();
        assert!(negotiated.srtp.is_none());
        assert!(!String::from_utf8(answer).unwrap().contains("crypto"));
    }

    #[test]
    fn answers_a_sipp_offer_with_its_law_and_events() {
        let remote = RemoteAudio::parse(SIPP_OFFER.as_bytes()).unwrap();
        assert_eq!(remote.addr, "127.0.0.1:6000".parse().unwrap());
        assert_eq!(remote.laws, vec![Law::ALaw]);
        assert_eq!(remote.event_payload_type, Some(101));
        let (answer, negotiated) = remote
            .answer("127.0.0.1:20000".parse().unwrap(), 1, 1, Some([7; 30]))
            .unwrap();
        assert_eq!(negotiated.law, Law::ALaw);
        let ours = RemoteAudio::parse(&answer).unwrap();
        assert_eq!(ours.addr, "127.0.0.1:20000".parse().unwrap());
        assert_eq!(ours.laws, vec![Law::ALaw]);
        assert_eq!(ours.event_payload_type, Some(101));
        assert_eq!(ours.direction, Direction::SendRecv);
    }

    #[test]
    fn the_packet_time_a_peer_asks_for_is_read_at_either_level() {
        assert_eq!(
            RemoteAudio::parse(SIPP_OFFER.as_bytes()).unwrap().ptime,
            None
        );
        let media_level =
            SIPP_OFFER.replace("a=fmtp:101 0-15\r\n", "a=fmtp:101 0-15\r\na=ptime:30\r\n");
        assert_eq!(
            RemoteAudio::parse(media_level.as_bytes()).unwrap().ptime,
            Some(30)
        );
        let session_level = SIPP_OFFER.replace("t=0 0\r\n", "t=0 0\r\na=ptime:40\r\n");
        assert_eq!(
            RemoteAudio::parse(session_level.as_bytes()).unwrap().ptime,
            Some(40)
        );
    }

    #[test]
    fn audio_at_the_other_ip_family_is_refused_not_answered_into_silence() {
        let v6 = SIPP_OFFER.replace("c=IN IP4 127.0.0.1", "c=IN IP6 ::1");
        let remote = RemoteAudio::parse(v6.as_bytes()).unwrap();
        assert_eq!(
            remote
                .answer("127.0.0.1:20000".parse().unwrap(), 1, 1, Some([7; 30]))
                .err(),
            Some(SdpError::OtherFamily {
                theirs: "IPv6",
                ours: "IPv4"
            })
        );
        let (answer, _) = remote
            .answer("[::1]:20000".parse().unwrap(), 1, 1, Some([7; 30]))
            .unwrap();
        assert!(String::from_utf8(answer).unwrap().contains("c=IN IP6 ::1"));
    }

    #[test]
    fn hold_offers_are_recognised() {
        let sendonly =
            SIPP_OFFER.replace("a=fmtp:101 0-15\r\n", "a=fmtp:101 0-15\r\na=sendonly\r\n");
        let remote = RemoteAudio::parse(sendonly.as_bytes()).unwrap();
        assert!(remote.direction.is_hold());
        let (answer, _) = remote
            .answer("127.0.0.1:20000".parse().unwrap(), 1, 2, Some([7; 30]))
            .unwrap();
        assert!(String::from_utf8(answer).unwrap().contains("a=recvonly"));
        let old_style = SIPP_OFFER.replace("c=IN IP4 127.0.0.1", "c=IN IP4 0.0.0.0");
        assert_eq!(
            RemoteAudio::parse(old_style.as_bytes()).unwrap().direction,
            Direction::Inactive
        );
    }

    #[test]
    fn refuses_what_it_cannot_answer() {
        assert!(RemoteAudio::parse(b"not sdp").is_err());
        let video_only = SIPP_OFFER.replace("m=audio", "m=video");
        assert!(RemoteAudio::parse(video_only.as_bytes()).is_err());
        let g729 = SIPP_OFFER
            .replace("RTP/AVP 8 101", "RTP/AVP 18")
            .replace("a=rtpmap:8 PCMA/8000\r\n", "");
        let remote = RemoteAudio::parse(g729.as_bytes()).unwrap();
        assert!(remote
            .answer("127.0.0.1:1".parse().unwrap(), 1, 1, Some([7; 30]))
            .unwrap_err()
            .to_string()
            .contains("PCMU, PCMA or G722"));
    }

    #[test]
    fn a_g722_only_phone_is_answered_in_g722_and_g711_is_preferred_when_offered() {
        let wideband_only = SIPP_OFFER
            .replace("RTP/AVP 8 101", "RTP/AVP 9 101")
            .replace("a=rtpmap:8 PCMA/8000", "a=rtpmap:9 G722/8000");
        let remote = RemoteAudio::parse(wideband_only.as_bytes()).unwrap();
        let (answer, negotiated) = remote
            .answer("127.0.0.1:2000".parse().unwrap(), 1, 1, Some([7; 30]))
            .unwrap();
        assert!(negotiated.g722);
        assert_eq!(negotiated.payload_type, 9);
        let answer = String::from_utf8(answer).unwrap();
        assert!(answer.contains("m=audio 2000 RTP/AVP 9 101"), "{answer}");
        assert!(answer.contains("a=rtpmap:9 G722/8000"), "{answer}");
        // G.722 first, PCMA after: PCMA, which the call speaks unturned.
        let both = SIPP_OFFER.replace("RTP/AVP 8 101", "RTP/AVP 9 8 101");
        let negotiated = RemoteAudio::parse(both.as_bytes())
            .unwrap()
            .negotiated()
            .unwrap();
        assert!(!negotiated.g722);
        assert_eq!(negotiated.law, Law::ALaw);
        // Our offers list G.722 after both laws.
        let ours = String::from_utf8(offer(
            "127.0.0.1:3000".parse().unwrap(),
            &[Law::MuLaw, Law::ALaw],
            Direction::SendRecv,
            1,
            1,
        ))
        .unwrap();
        assert!(ours.contains("RTP/AVP 0 8 9 101"), "{ours}");
    }

    #[test]
    fn dynamic_payload_types_and_other_media_are_answered_in_kind() {
        let offer = "v=0\r\no=x 1 1 IN IP4 10.0.0.9\r\ns=-\r\nc=IN IP4 10.0.0.9\r\nt=0 0\r\nm=video 5000 RTP/SAVP 96\r\na=rtpmap:96 VP8/90000\r\nm=audio 6000 RTP/AVP 97 101\r\na=rtpmap:97 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n";
        let remote = RemoteAudio::parse(offer.as_bytes()).unwrap();
        let (answer, negotiated) = remote
            .answer("10.0.0.1:7000".parse().unwrap(), 1, 1, Some([7; 30]))
            .unwrap();
        assert_eq!((negotiated.law, negotiated.payload_type), (Law::MuLaw, 97));
        let text = String::from_utf8(answer).unwrap();
        assert!(text.contains("m=video 0 RTP/SAVP 96"), "{text}");
        assert!(text.contains("m=audio 7000 RTP/AVP 97 101"), "{text}");
        assert!(text.contains("a=rtpmap:97 PCMU/8000"), "{text}");
    }

    #[test]
    fn our_offer_parses_back() {
        let offer = offer(
            "10.0.0.1:30000".parse().unwrap(),
            &[Law::MuLaw, Law::ALaw],
            Direction::SendRecv,
            5,
            1,
        );
        let remote = RemoteAudio::parse(&offer).unwrap();
        assert_eq!(remote.laws, vec![Law::MuLaw, Law::ALaw]);
        assert_eq!(remote.event_payload_type, Some(EVENT_PAYLOAD_TYPE));
    }
}
