"""Word error rate and decode time of the on-box recogniser candidate
(PyPI pocketsphinx 5.x with its bundled en-us model) on a speech set made
here: the demo bank bot's held-out test utterances, spoken by espeak-ng and
(when installed) flite voices, through a telephone line (8 kHz, A-law,
optional noise), recognised by free dictation and by a grammar built from
what the bot can hear. Run by bench/speech.sh; prints a table.
"""
import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import wave

import numpy as np
from pocketsphinx import Config, Decoder

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
LIMIT = int(os.environ.get("UTTERANCES", "60"))


def words(text):
    text = text.lower().replace("'", "")
    return re.findall(r"[a-z]+", text)


def wer(ref, hyp):
    r, h = words(ref), words(hyp)
    d = list(range(len(h) + 1))
    for i in range(1, len(r) + 1):
        prev, d[0] = d[0], i
        for j in range(1, len(h) + 1):
            cur = min(d[j] + 1, d[j - 1] + 1, prev + (r[i - 1] != h[j - 1]))
            prev, d[j] = d[j], cur
    return d[len(h)], len(r)


def speakable(text):
    # Digits and symbols are said the way a TTS reads them; keep plain words only.
    return re.fullmatch(r"[A-Za-z ,.'?!-]+", text) is not None


def load_set():
    cases = json.load(open(os.path.join(ROOT, "crates/switchboard-nlu/tests/data/test_set.json")))
    picked = [c["text"] for c in cases if c["intent"] != "FallbackIntent" and speakable(c["text"])]
    # Every third one, so each intent is in (the set is ordered by intent).
    return picked[::3][:LIMIT]


def grammar():
    bot = json.load(open(os.path.join(ROOT, "crates/switchboard-nlu/bots/demo-bank.json")))
    vocab = set()
    for intent in bot["locales"][0]["intents"]:
        for u in intent.get("sampleUtterances", []):
            vocab.update(words(re.sub(r"\{[^}]*\}", " ", u)))
    for t in bot["locales"][0].get("slotTypes", []):
        for v in t["values"]:
            for s in [v["value"]] + v.get("synonyms", []):
                vocab.update(words(s))
    vocab.update("zero oh one two three four five six seven eight nine ten yes no please".split())
    # Only words the model can say: the dictionary it ships.
    import pocketsphinx
    dictionary = os.path.join(os.path.dirname(pocketsphinx.__file__), "model", "en-us", "cmudict-en-us.dict")
    known = {line.split()[0] for line in open(dictionary, encoding="utf-8", errors="replace") if line.strip()}
    vocab = {w for w in vocab if w in known}
    return "#JSGF V1.0;\ngrammar bot;\npublic <utt> = <w>+;\n<w> = " + " | ".join(sorted(vocab)) + ";\n", vocab


def speak(engine, voice, text, path):
    if engine == "espeak-ng":
        subprocess.run(["espeak-ng", "-v", voice, "-w", path, text], check=True)
    else:
        subprocess.run(["flite", "-voice", voice, "-t", text, "-o", path], check=True)


def telephone(path, noise_db):
    """8 kHz A-law as a call brings it, then 16 kHz for the model."""
    w = wave.open(path)
    rate, audio = w.getframerate(), np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float64)
    # Low-pass under 3.4 kHz by a moving average at the source rate, then pick 8 kHz samples.
    k = max(1, int(rate / 6800))
    audio = np.convolve(audio, np.ones(k) / k, mode="same")
    idx = np.arange(0, len(audio), rate / 8000.0).astype(int)
    audio = audio[idx[idx < len(audio)]]
    if noise_db is not None:
        power = np.mean(audio ** 2) / (10 ** (noise_db / 10))
        audio = audio + np.random.default_rng(7).normal(0, np.sqrt(power), len(audio))
    pcm = np.clip(audio, -32768, 32767).astype(np.int16).tobytes()
    pcm = audioop.alaw2lin(audioop.lin2alaw(pcm, 2), 2)
    pcm16 = np.repeat(np.frombuffer(pcm, dtype=np.int16), 2)
    return pcm16.tobytes()


def main():
    texts = load_set()
    jsgf, vocab = grammar()
    voices = [("espeak-ng", "en-us"), ("espeak-ng", "en+m3"), ("espeak-ng", "en+f3")]
    if shutil.which("flite"):
        voices += [("flite", "slt"), ("flite", "rms"), ("flite", "awb")]
    free = Decoder(samprate=16000)
    constrained = Decoder(samprate=16000)
    constrained.add_jsgf_string("bot", jsgf)
    constrained.activate_search("bot")
    tmp = tempfile.mkdtemp()
    print(f"speech set: {len(texts)} held-out utterances x {len(voices)} voices; grammar of {len(vocab)} words")
    print(f"{'voice':<20} {'line':<14} {'search':<9} {'WER':>6} {'p50 ms':>7} {'p95 ms':>7} {'audio s':>8}")
    for engine, voice in voices:
        for noise in (None, 15):
            for name, dec in (("dictation", free), ("grammar", constrained)):
                errors = total = 0
                times = []
                audio_s = 0.0
                for i, text in enumerate(texts):
                    path = os.path.join(tmp, f"{i}.wav")
                    speak(engine, voice, text, path)
                    pcm = telephone(path, noise)
                    audio_s += len(pcm) / 2 / 16000
                    t = time.perf_counter()
                    dec.start_utt()
                    dec.process_raw(pcm, full_utt=True)
                    dec.end_utt()
                    times.append((time.perf_counter() - t) * 1000)
                    hyp = dec.hyp()
                    e, n = wer(text, hyp.hypstr if hyp else "")
                    errors += e
                    total += n
                times.sort()
                line = "clean" if noise is None else f"{noise} dB SNR"
                print(f"{engine + ' ' + voice:<20} {line:<14} {name:<9} {100 * errors / total:5.1f}% "
                      f"{times[len(times) // 2]:7.0f} {times[int(len(times) * 0.95)]:7.0f} {audio_s / len(texts):8.2f}")
                sys.stdout.flush()


if __name__ == "__main__":
    main()
