#!/usr/bin/env python3
"""Times the history API's search SQL on the sink's SQLite schema (version 2:
FTS5 trigram index, LIKE for 1-2 character words) over N synthetic posts.

    python3 bench/history-search.py 200000

Builds the schema and statements the way services/sink/src/store and
history/query.rs do; texts come from the collector's synthetic templates.
"""
import random, re, sqlite3, sys, tempfile, time, os, datetime as dt

N = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
root = os.path.join(os.path.dirname(__file__), "..")
words = open(os.path.join(root, "services/collector/src/synthetic_words.rs"), encoding="utf-8").read()
templates = [t for t in re.findall(r'"([^"]*[\u4e00-\u9fff][^"]*)"', words) if "|" not in t]
fill = {"bank": ["建设银行", "工商银行", "招商银行"], "feel_zh": ["开心", "郁闷", "跌停了心情也跌停"],
        "time": ["早上", "下午", "晚上"], "city": ["北京", "上海", "成都"], "name_zh": ["小王", "老李"],
        "daily_zh": ["加班到十点", "去健身房"], "food_zh": ["火锅", "小笼包"]}
def text(rng):
    t = rng.choice(templates)
    return re.sub(r"\{(\w+)\}", lambda m: rng.choice(fill.get(m.group(1), ["涨停"])), t)

db = os.path.join(tempfile.mkdtemp(), "h.db")
c = sqlite3.connect(db)
c.executescript("""
PRAGMA journal_mode = WAL;
CREATE TABLE matched_posts (id TEXT PRIMARY KEY, source TEXT NOT NULL, text TEXT NOT NULL, lang TEXT,
  author_id TEXT NOT NULL, author_name TEXT NOT NULL, created_at TEXT NOT NULL, url TEXT, rules TEXT NOT NULL,
  batch_time TEXT NOT NULL, replica TEXT NOT NULL, raw_partition INTEGER NOT NULL, raw_offset BIGINT NOT NULL,
  post TEXT NOT NULL, stored_at TEXT NOT NULL, label TEXT);
CREATE INDEX matched_posts_batch_time ON matched_posts (batch_time);
CREATE VIRTUAL TABLE matched_posts_fts USING fts5(text, content='matched_posts', content_rowid='rowid', tokenize='trigram');
CREATE TRIGGER matched_posts_fts_insert AFTER INSERT ON matched_posts BEGIN
  INSERT INTO matched_posts_fts (rowid, text) VALUES (new.rowid, new.text); END;
""")
rng = random.Random(7)
end = dt.datetime(2026, 12, 2, tzinfo=dt.timezone.utc)
rows = []
for i in range(N):
    t = (end - dt.timedelta(seconds=rng.randrange(7 * 86400))).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    rows.append((f"weibo:{i}", "weibo", text(rng), None, "a", "a", t, None, '["r"]', t, "r0", 0, i, "{}", t))
started = time.perf_counter()
c.executemany("INSERT INTO matched_posts VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,NULL)", rows)
c.commit()
print(f"SQLite {sqlite3.sqlite_version}: {N} posts inserted with the trigram index in {time.perf_counter() - started:.1f} s")

COLS = "id, text, batch_time"
def search(q, day=False):
    sql, params, long = f"SELECT {COLS} FROM matched_posts WHERE TRUE", [], []
    for w in q.split():
        if len(w) >= 3:
            long.append('"' + w.replace('"', '""') + '"')
        else:
            params.append("%" + w + "%"); sql += f" AND text LIKE ?{len(params)} ESCAPE '\\'"
    if long:
        params.append(" ".join(long)); sql += f" AND rowid IN (SELECT rowid FROM matched_posts_fts WHERE matched_posts_fts MATCH ?{len(params)})"
    if day:
        params.append((end - dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z")); sql += f" AND batch_time >= ?{len(params)}"
    sql += " ORDER BY batch_time DESC, id DESC LIMIT 51"
    best = None
    for _ in range(3):
        started = time.perf_counter(); found = c.execute(sql, params).fetchall(); took = time.perf_counter() - started
        best = took if best is None else min(best, took)
    total = c.execute(sql.replace(COLS, "COUNT(*)").split(" ORDER BY")[0], params).fetchone()[0]
    print(f"  {q!r:22} {'last day' if day else 'all 7 days':10}: {len(found):2} of {total:6} matches, {best * 1000:7.1f} ms")

for day in (False, True):
    for q in ["涨", "跌停", "银行", "建设银行", "跌停 建设银行", "排队排了一个小时", "火锅 涨", "不存在的词"]:
        search(q, day)
