"""The benchmark's peer: a Quix Streams application applying the rule
`建设银行 AND 涨` to posts.raw, the way the filter does (NFKC, lower-case,
Chinese terms as substrings).

It counts posts consumed and matched, with the wall-clock time of the first
and last post, and writes them as JSON to --status every 100 ms and once more
when it stops (SIGTERM/SIGINT, handled by Quix Streams).
"""

import argparse
import json
import os
import threading
import time
import unicodedata

from quixstreams import Application

TERMS = ("建设银行", "涨")


class Counts:
    def __init__(self, path):
        self.path = path
        self.consumed = 0
        self.matched = 0
        self.first = None
        self.last = None
        self.lock = threading.Lock()

    def see(self, post):
        now = time.time()
        text = unicodedata.normalize("NFKC", post.get("text", "")).lower()
        hit = all(term in text for term in TERMS)
        with self.lock:
            if self.first is None:
                self.first = now
            self.last = now
            self.consumed += 1
            self.matched += hit

    def write(self):
        with self.lock:
            state = {
                "consumed": self.consumed,
                "matched": self.matched,
                "first_s": self.first,
                "last_s": self.last,
            }
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(state, f)
        os.replace(tmp, self.path)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--broker", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--status", required=True)
    parser.add_argument("--state-dir", required=True)
    args = parser.parse_args()

    counts = Counts(args.status)
    stop = threading.Event()

    def report():
        while not stop.wait(0.1):
            counts.write()

    threading.Thread(target=report, daemon=True).start()
    app = Application(
        broker_address=args.broker,
        consumer_group=args.group,
        auto_offset_reset="earliest",
        auto_create_topics=False,
        # Each instance its own (unused) state folder: two creating the same one race.
        state_dir=args.state_dir,
        # The local broker makes each group join wait half the session timeout.
        consumer_extra_config={"session.timeout.ms": 6000, "heartbeat.interval.ms": 1000},
    )
    topic = app.topic(args.topic, value_deserializer="json")
    sdf = app.dataframe(topic)
    sdf.update(counts.see)
    try:
        app.run()
    finally:
        stop.set()
        counts.write()


if __name__ == "__main__":
    main()
