#!/usr/bin/env python3
"""The container test's oracle: which posts of posts.raw match deploy/rules.toml.

Reads `tansu cat consume` output (a JSON array of {"key", "value"} per
record batch, one per line) for every partition from the files named on the command line, applies the three rules of
deploy/rules.toml written out by hand here (not with the filter's code), and
prints {"posts": N, "matched": {post id: [rule ids]}} as JSON.

The rules file is checked to hold exactly these three queries, so a change to
it fails the test here instead of silently comparing against stale rules.
"""

import json
import re
import sys
import tomllib
import unicodedata

EXPECTED_QUERIES = {
    "ccb-rise": "建设银行 AND 涨",
    "bank-fall": "(建设银行 OR 工商银行 OR 招商银行) AND (跌 OR 下跌)",
    "banks-en": '"construction bank" OR (bank* AND (rise* OR surge*))',
}


def words(text):
    return re.findall(r"[a-z0-9]+", text)


def rules_matched(raw_text):
    text = unicodedata.normalize("NFKC", raw_text).lower()
    ws = words(text)
    matched = []
    if "建设银行" in text and "涨" in text:
        matched.append("ccb-rise")
    if any(b in text for b in ("建设银行", "工商银行", "招商银行")) and "跌" in text:
        matched.append("bank-fall")
    phrase = any(a == "construction" and b == "bank" for a, b in zip(ws, ws[1:]))
    prefix = lambda p: any(w.startswith(p) for w in ws)  # noqa: E731
    if phrase or (prefix("bank") and (prefix("rise") or prefix("surge"))):
        matched.append("banks-en")
    return sorted(matched)


def main():
    rules_path, *dumps = sys.argv[1:]
    with open(rules_path, "rb") as f:
        queries = {r["id"]: r["query"] for r in tomllib.load(f)["rule"]}
    if queries != EXPECTED_QUERIES:
        sys.exit(f"oracle.py: {rules_path} changed; update EXPECTED_QUERIES and rules_matched: {queries}")
    posts = 0
    matched = {}
    for dump in dumps:
        with open(dump, encoding="utf-8") as f:
            records = [r for line in f if line.strip() for r in json.loads(line)]
            for record in records:
                posts += 1
                post = record["value"]
                rules = rules_matched(post["text"])
                if rules:
                    matched[post["id"]] = rules
    json.dump({"posts": posts, "matched": matched}, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
