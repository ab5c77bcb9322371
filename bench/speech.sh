#!/usr/bin/env bash
# Speech recognition on the box, measured: the on-box recogniser
# (PocketSphinx from Debian, held to the bot's grammar; and by dictation for
# comparison) on the demo bank bot's held-out test utterances spoken by
# flite's and espeak-ng's voices over a telephone line (8 kHz μ-law, clean
# and at 15 dB SNR), on real recorded speech from Debian's
# pocketsphinx-testdata, and with many callers at once. Prints word error
# rate, intent accuracy, end-of-speech-to-intent time (p50, p95), CPU per
# caller and the most callers one machine holds. Not part of the test suite.
#
#   bench/speech.sh                        # UTTERANCES=40 STEPS=4,8,16,32,64 STEP_SECONDS=30
#
# Needs (as root they are installed): libpocketsphinx3, pocketsphinx-en-us,
# pocketsphinx-testdata, flite, espeak-ng.
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
/sbin/ldconfig -p | grep -q 'libpocketsphinx\.so\.3 ' || missing+=(libpocketsphinx3)
[ -d /usr/share/pocketsphinx/model/en-us ] || missing+=(pocketsphinx-en-us)
[ -d /usr/share/pocketsphinx/test/data ] || missing+=(pocketsphinx-testdata)
command -v flite >/dev/null || missing+=(flite)
command -v espeak-ng >/dev/null || missing+=(espeak-ng)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "Run, as root: apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
cargo bench -q -p switchboard-voice --bench speech
