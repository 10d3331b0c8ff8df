"""Compares the filter's classifier with scikit-learn on the same tokens and split.

Usage (compare-sklearn.sh sets this up):
    python compare_sklearn.py FILTER_BIN DATA.jsonl [SEED [--dedupe]]

The tokens and the 80/20 split come from `filter tokenize`, so scikit-learn sees
exactly what the Rust classifier sees. Baselines: TfidfVectorizer with
MultinomialNB and with LogisticRegression, default settings, on unigrams and on
unigrams+bigrams. The filter's own accuracy comes from `filter eval` on the same
split. Exits 1 if the filter is below the best baseline.
"""

import json
import subprocess
import sys

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.naive_bayes import MultinomialNB


def unigrams(tokens):
    return tokens


def unigrams_bigrams(tokens):
    return list(tokens) + [a + " " + b for a, b in zip(tokens, tokens[1:])]


def main():
    filter_bin, data = sys.argv[1], sys.argv[2]
    seed = sys.argv[3] if len(sys.argv) > 3 else "42"
    split = ["--split", "0.8", "--seed", seed, *sys.argv[4:5]]
    lines = subprocess.run(
        [filter_bin, "tokenize", "--input", data, *split],
        check=True, capture_output=True, text=True,
    ).stdout.splitlines()
    rows = [json.loads(line) for line in lines]
    train = [r for r in rows if r["split"] == "train"]
    test = [r for r in rows if r["split"] == "test"]
    y_train = [r["label"] for r in train]
    y_test = [r["label"] for r in test]

    results = []
    for ngrams, analyzer in (("unigrams", unigrams), ("uni+bigrams", unigrams_bigrams)):
        vectorizer = TfidfVectorizer(analyzer=analyzer)
        x_train = vectorizer.fit_transform([r["tokens"] for r in train])
        x_test = vectorizer.transform([r["tokens"] for r in test])
        for name, model in (("MultinomialNB", MultinomialNB()),
                            ("LogisticRegression", LogisticRegression(max_iter=5000))):
            model.fit(x_train, y_train)
            # Four decimals, as `filter eval` prints: finer than one example
            # in ten thousand, so equal here means equally many right.
            accuracy = round(accuracy_score(y_test, model.predict(x_test)), 4)
            results.append((f"sklearn TfidfVectorizer({ngrams}) + {name}", accuracy))

    report = subprocess.run(
        [filter_bin, "eval", "--input", data, *split],
        check=True, capture_output=True, text=True,
    ).stdout
    ours = float(report.split()[1])

    dedupe = ", deduplicated" if "--dedupe" in split else ""
    print(f"{data}: {len(train)} training, {len(test)} held-out examples (seed {seed}{dedupe})")
    for name, accuracy in results:
        print(f"  {accuracy:.4f}  {name}")
    best_name, best = max(results, key=lambda r: r[1])
    print(f"  {ours:.4f}  filter (TF-IDF uni+bigrams, logistic regression)")
    verdict = "ok" if ours >= best else "BELOW"
    print(f"  {verdict}: filter {ours:.4f} vs best baseline {best:.4f} ({best_name})")
    sys.exit(0 if ours >= best else 1)


if __name__ == "__main__":
    main()
