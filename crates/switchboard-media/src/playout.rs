//! What a call sends next: one 20 ms frame at a time.
//!
//! The shell ticks every 20 ms and asks for a frame; a prompt, a list of
//! prompts or a loop (queue music) is cut into frames here, so the timing
//! of "the prompt finished" is exact and testable.

use std::sync::Arc;

use crate::FRAME_SAMPLES;

/// Audio at 8 kHz, shared between every call playing it.
pub type Clip = Arc<[i16]>;

/// What one call is playing, and how far it has got.
#[derive(Debug, Default)]
pub struct Playout {
    clips: Vec<Clip>,
    clip: usize,
    offset: usize,
    looping: bool,
    /// Counts every `play`, so a finish can be matched to what asked for it.
    generation: u64,
}

/// One tick's worth of output.
#[derive(Debug, PartialEq)]
pub struct Tick {
    /// `None`: nothing to play (the shell may send nothing or silence).
    pub frame: Option<[i16; FRAME_SAMPLES]>,
    /// The play with this generation ended during this frame.
    pub finished: Option<u64>,
}

impl Playout {
    /// Plays `clips` one after another (round and round if `looping`),
    /// replacing whatever played; returns the play's generation.
    pub fn play(&mut self, clips: Vec<Clip>, looping: bool) -> u64 {
        self.generation += 1;
        self.clips = clips.into_iter().filter(|c| !c.is_empty()).collect();
        self.clip = 0;
        self.offset = 0;
        self.looping = looping;
        self.generation
    }

    /// Stops at once; the stopped play never reports `finished`.
    pub fn stop(&mut self) {
        self.clips.clear();
    }

    /// Whether a play is under way: false before any, after `stop`, and after a
    /// play's last frame (a loop plays until stopped or replaced).
    pub fn is_playing(&self) -> bool {
        !self.clips.is_empty()
    }

    /// The next 20 ms frame (160 samples at 8 kHz); call once per tick.
    /// A play's last frame is padded with silence.
    pub fn tick(&mut self) -> Tick {
        if self.clips.is_empty() {
            return Tick {
                frame: None,
                finished: None,
            };
        }
        let mut frame = [0i16; FRAME_SAMPLES];
        let mut filled = 0;
        let mut finished = None;
        while filled < FRAME_SAMPLES {
            let clip = &self.clips[self.clip];
            let take = (clip.len() - self.offset).min(FRAME_SAMPLES - filled);
            frame[filled..filled + take].copy_from_slice(&clip[self.offset..self.offset + take]);
            filled += take;
            self.offset += take;
            if self.offset == clip.len() {
                self.offset = 0;
                self.clip += 1;
                if self.clip == self.clips.len() {
                    if self.looping {
                        self.clip = 0;
                    } else {
                        // The last frame is padded with silence.
                        self.clips.clear();
                        finished = Some(self.generation);
                        break;
                    }
                }
            }
        }
        Tick {
            frame: Some(frame),
            finished,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clip(len: usize, value: i16) -> Clip {
        vec![value; len].into()
    }

    #[test]
    fn a_prompt_finishes_on_the_frame_that_holds_its_end() {
        let mut p = Playout::default();
        let g = p.play(vec![clip(400, 5)], false);
        assert_eq!(p.tick().finished, None);
        assert_eq!(p.tick().finished, None);
        let last = p.tick();
        assert_eq!(last.finished, Some(g));
        let frame = last.frame.unwrap();
        assert_eq!(frame[79], 5);
        assert_eq!(frame[80], 0, "padded with silence");
        assert_eq!(
            p.tick(),
            Tick {
                frame: None,
                finished: None
            }
        );
    }

    #[test]
    fn clips_follow_each_other_across_frames_and_loops_never_finish() {
        let mut p = Playout::default();
        p.play(vec![clip(100, 1), clip(100, 2)], true);
        let f = p.tick().frame.unwrap();
        assert_eq!((f[99], f[100], f[159]), (1, 2, 2));
        let f = p.tick().frame.unwrap();
        assert_eq!((f[39], f[40]), (2, 1), "round again");
        for _ in 0..1000 {
            assert_eq!(p.tick().finished, None);
        }
    }

    #[test]
    fn a_new_play_replaces_the_old_one_and_empty_plays_end_at_once() {
        let mut p = Playout::default();
        let first = p.play(vec![clip(10_000, 1)], false);
        let second = p.play(vec![clip(10, 9)], false);
        assert_ne!(first, second);
        assert_eq!(p.tick().finished, Some(second));
        p.play(vec![], false);
        assert!(!p.is_playing());
    }
}
