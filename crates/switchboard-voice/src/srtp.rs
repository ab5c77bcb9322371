//! SRTP and SRTCP (RFC 3711) on a leg whose SDP agreed keys by SDES
//! (`switchboard_media::sdes`): what we send is encrypted with our key,
//! what we receive is authenticated and decrypted with the peer's, on
//! webrtc-rs's `webrtc-srtp` (AES-CM with HMAC-SHA1, replay protection).
//!
//! A context keeps state for every SSRC it is shown, before it checks the
//! tag; a flood of forged SSRCs would grow it without end. So each source
//! gets a context of its own once one of its packets authenticates, at
//! most [`MAX_SOURCES`] (the oldest goes), and a packet from an unknown
//! source is tried on a fresh context that is dropped if it fails.

use bytes::Bytes;
use switchboard_media::sdes::{Agreement, Suite};
use webrtc_srtp::context::Context;
use webrtc_srtp::option;
use webrtc_srtp::protection_profile::ProtectionProfile;

/// Sources (SSRCs) a leg follows at once: the stream, and a few changes of
/// it (a transfer on the peer's side, a new stream after a re-INVITE).
pub const MAX_SOURCES: usize = 4;

/// Packets behind the newest that may still arrive (out of order) once.
const REPLAY_WINDOW: usize = 64;

/// Why a packet was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Too short to carry an SSRC.
    Short,
    /// Its tag does not authenticate, or it is a replay.
    Unauthentic,
}

/// One leg's SRTP: our sending context and the peer's sources.
pub struct Srtp {
    agreement: Agreement,
    outbound: Context,
    rtp_sources: Vec<(u32, Context)>,
    rtcp_sources: Vec<(u32, Context)>,
}

impl Srtp {
    /// Contexts for what `agreement` says. Keys of the right length cannot fail.
    pub fn new(agreement: Agreement) -> Option<Srtp> {
        Some(Srtp {
            agreement,
            outbound: context(agreement.suite, &agreement.ours)?,
            rtp_sources: Vec::new(),
            rtcp_sources: Vec::new(),
        })
    }

    /// What the contexts were made for.
    pub fn agreement(&self) -> Agreement {
        self.agreement
    }

    /// An RTP packet of ours, encrypted.
    pub fn protect_rtp(&mut self, packet: &[u8]) -> Option<Bytes> {
        self.outbound.encrypt_rtp(packet).ok()
    }

    /// An RTCP packet of ours, encrypted.
    pub fn protect_rtcp(&mut self, packet: &[u8]) -> Option<Bytes> {
        self.outbound.encrypt_rtcp(packet).ok()
    }

    /// A received SRTP packet, authenticated and decrypted.
    pub fn unprotect_rtp(&mut self, packet: &[u8]) -> Result<Bytes, Refused> {
        let ssrc = ssrc_at(packet, 8)?;
        let (suite, key) = (self.agreement.suite, self.agreement.theirs);
        unprotect(&mut self.rtp_sources, ssrc, suite, &key, |c| {
            c.decrypt_rtp(packet).ok()
        })
    }

    /// A received SRTCP packet, authenticated and decrypted.
    pub fn unprotect_rtcp(&mut self, packet: &[u8]) -> Result<Bytes, Refused> {
        let ssrc = ssrc_at(packet, 4)?;
        let (suite, key) = (self.agreement.suite, self.agreement.theirs);
        unprotect(&mut self.rtcp_sources, ssrc, suite, &key, |c| {
            c.decrypt_rtcp(packet).ok()
        })
    }
}

fn ssrc_at(packet: &[u8], at: usize) -> Result<u32, Refused> {
    let bytes: [u8; 4] = packet
        .get(at..at + 4)
        .and_then(|b| b.try_into().ok())
        .ok_or(Refused::Short)?;
    Ok(u32::from_be_bytes(bytes))
}

fn unprotect(
    sources: &mut Vec<(u32, Context)>,
    ssrc: u32,
    suite: Suite,
    key: &[u8; 30],
    decrypt: impl Fn(&mut Context) -> Option<Bytes>,
) -> Result<Bytes, Refused> {
    if let Some((_, context)) = sources.iter_mut().find(|(s, _)| *s == ssrc) {
        return decrypt(context).ok_or(Refused::Unauthentic);
    }
    let mut context = context(suite, key).ok_or(Refused::Unauthentic)?;
    let plain = decrypt(&mut context).ok_or(Refused::Unauthentic)?;
    if sources.len() >= MAX_SOURCES {
        sources.remove(0);
    }
    sources.push((ssrc, context));
    Ok(plain)
}

fn context(suite: Suite, key_salt: &[u8; 30]) -> Option<Context> {
    let profile = match suite {
        Suite::AesCm128HmacSha1_80 => ProtectionProfile::Aes128CmHmacSha1_80,
        Suite::AesCm128HmacSha1_32 => ProtectionProfile::Aes128CmHmacSha1_32,
    };
    let (key, salt) = key_salt.split_at(16);
    // RFC 3711 section 3.3.2's replay list, 64 packets wide (its minimum).
    Context::new(
        key,
        salt,
        profile,
        Some(option::srtp_replay_protection(REPLAY_WINDOW)),
        Some(option::srtcp_replay_protection(REPLAY_WINDOW)),
    )
    .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_media::rtp::OutStream;

    fn pair(suite: Suite) -> (Srtp, Srtp) {
        let (a, b) = ([1u8; 30], [2u8; 30]);
        let ours = Srtp::new(Agreement {
            suite,
            theirs: b,
            ours: a,
        })
        .unwrap();
        let theirs = Srtp::new(Agreement {
            suite,
            theirs: a,
            ours: b,
        })
        .unwrap();
        (ours, theirs)
    }

    #[test]
    fn what_one_side_protects_the_other_reads_and_nothing_else_gets_through() {
        for suite in [Suite::AesCm128HmacSha1_80, Suite::AesCm128HmacSha1_32] {
            let (mut us, mut peer) = pair(suite);
            let mut stream = OutStream::new(0x1234_5678);
            for n in 0..3u8 {
                let plain = stream.audio(0, &[n; 160], 160);
                let sent = us.protect_rtp(&plain).unwrap();
                assert_ne!(&sent[12..172], &plain[12..], "the payload is encrypted");
                assert_eq!(peer.unprotect_rtp(&sent).unwrap(), plain);
                // The same packet again is a replay.
                assert_eq!(peer.unprotect_rtp(&sent), Err(Refused::Unauthentic));
            }
            // A flipped bit fails the tag; so does a packet under our own key.
            let mut forged = us
                .protect_rtp(&stream.audio(0, &[9; 160], 160))
                .unwrap()
                .to_vec();
            forged[20] ^= 1;
            assert_eq!(peer.unprotect_rtp(&forged), Err(Refused::Unauthentic));
            let mine = us.protect_rtp(&stream.audio(0, &[9; 160], 160)).unwrap();
            assert_eq!(us.unprotect_rtp(&mine), Err(Refused::Unauthentic));
            assert_eq!(peer.unprotect_rtp(&[0x80, 0]), Err(Refused::Short));
        }
    }

    #[test]
    fn forged_sources_leave_no_state_and_real_ones_are_bounded() {
        let (mut us, mut peer) = pair(Suite::AesCm128HmacSha1_80);
        for seed in 0..1000u64 {
            let mut forged = OutStream::new(seed).audio(0, &[0; 160], 160);
            forged.extend_from_slice(&[0; 10]);
            assert!(peer.unprotect_rtp(&forged).is_err());
        }
        assert!(peer.rtp_sources.is_empty());
        for seed in 0..10u64 {
            let sent = us
                .protect_rtp(&OutStream::new(seed).audio(0, &[0; 160], 160))
                .unwrap();
            assert!(peer.unprotect_rtp(&sent).is_ok());
        }
        assert_eq!(peer.rtp_sources.len(), MAX_SOURCES);
    }

    #[test]
    fn rtcp_goes_both_ways_too() {
        let (mut us, mut peer) = pair(Suite::AesCm128HmacSha1_80);
        let report = switchboard_media::rtcp::report(0xabcd, None, None, "switchboard@test");
        let sent = us.protect_rtcp(&report).unwrap();
        assert_eq!(peer.unprotect_rtcp(&sent).unwrap(), report);
        assert_eq!(peer.unprotect_rtcp(&sent), Err(Refused::Unauthentic));
    }
}
