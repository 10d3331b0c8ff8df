use weibostream_shared::{Author, Post, RepostRef};

use super::*;

fn posts() -> Vec<Post> {
    let base = Post {
        id: "synthetic:4980000000943676".into(),
        source: Source::Synthetic,
        text: "#打工人的一天#下午去中国建设银行办了张卡，排队排了一个小时[允悲]".into(),
        lang: Some("zh".into()),
        created_at: "2026-12-01T16:21:19.295153045Z".parse().unwrap(),
        author: Author {
            id: "1854712427".into(),
            name: "快乐的土豆_Sky".into(),
            followers: Some(21),
            verified: false,
        },
        url: Some("https://weibo.com/1854712427/4980000000943676".into()),
        reposts: 7,
        comments: 0,
        likes: 15,
        repost_of: None,
        client: Some("HUAWEI Mate 60 Pro".into()),
        collected_at: "2026-12-01T16:21:19Z".parse().unwrap(),
    };
    let mut bare = base.clone();
    bare.id = "weibo:1".into();
    bare.source = Source::Weibo;
    bare.text = "ICBC shares surge".into();
    bare.lang = None;
    bare.url = None;
    bare.client = None;
    bare.author.followers = None;
    bare.author.verified = true;
    bare.reposts = u64::MAX;
    let mut repost = base.clone();
    repost.repost_of = Some(RepostRef {
        id: "weibo:2".into(),
        author_name: Some("李四".into()),
        text: None,
    });
    vec![base, bare, repost]
}

fn serde_view(json: &str) -> Option<(String, Source, String, bool)> {
    let view: PostView = serde_json::from_str(json).ok()?;
    Some((
        view.id.to_string(),
        view.source,
        view.text.to_string(),
        view.validate().is_ok(),
    ))
}

fn fast_view(json: &str) -> Option<(String, Source, String, bool)> {
    let view = parse(json)?;
    Some((
        view.id.to_string(),
        view.source,
        view.text.to_string(),
        view.validate().is_ok(),
    ))
}

#[test]
fn what_the_collectors_write_takes_the_fast_path() {
    for post in posts() {
        let json = serde_json::to_string(&post).unwrap();
        let fast = fast_view(&json).unwrap_or_else(|| panic!("slow path for {json}"));
        assert_eq!(Some(&fast), serde_view(&json).as_ref(), "{json}");
        assert!(matches!(parse(&json).unwrap().text, Cow::Borrowed(_)));
    }
}

#[test]
fn other_forms_take_the_slow_path() {
    let json = serde_json::to_string(&posts()[0]).unwrap();
    let cases = [
        json.replacen("\":", "\": ", 1),
        json.replacen("卡", "\\u5361", 1),
        json.replacen("{\"id\"", "{\"extra\":1,\"id\"", 1),
        json.replacen("{\"id\"", "{\"lang\":\"en\",\"id\"", 1),
        json.replacen("\"likes\":15", "\"likes\":15.0", 1),
        json.replacen("\"likes\":15", "\"likes\":1e1", 1),
        json.replacen("\"likes\":15", "\"likes\":015", 1),
        json.replacen("\"likes\":15", "\"likes\":18446744073709551616", 1),
        json.replacen("16:21:19Z", "16:21:19+08:00", 1),
        format!("{json} "),
    ];
    for case in &cases {
        assert_ne!(case, &json);
        assert!(parse(case).is_none(), "{case}");
    }
    // serde still decides: these two it accepts, the rest (a repeated
    // field, a float count, a leading zero) it refuses.
    assert!(serde_view(&cases[0]).is_some());
    assert!(serde_view(&cases[1]).is_some());
    assert!(serde_view(&cases[3]).is_none());
    assert!(serde_view(&cases[4]).is_none());
    assert!(serde_view(&cases[6]).is_none());
    assert!(serde_view(&cases[7]).is_none(), "over u64::MAX");
}

/// Whatever the fast path accepts, serde accepts too, with the same id,
/// source, text and validation verdict: checked over random edits of
/// compact records (deterministic, so a failure reproduces).
#[test]
fn whatever_the_fast_path_accepts_serde_accepts_alike() {
    const INSERTS: &[&str] = &[
        " ",
        "\"",
        "\\",
        ",",
        ":",
        "{",
        "}",
        "[",
        "]",
        "0",
        "1",
        "-",
        ".",
        "e",
        "a",
        "null",
        "true",
        "\n",
        "\t",
        "\u{1}",
        "\"id\":\"weibo:9\",",
        "\"x\":1,",
        "建",
    ];
    let mut rng = crate::test_rng::TestRng(0x2545_F491_4F6C_DD1D);
    let mut next = move |below: usize| rng.below(below);
    let bases: Vec<String> = posts()
        .iter()
        .map(|p| serde_json::to_string(p).unwrap())
        .collect();
    let (mut fast_accepted, mut fast_declined) = (0, 0);
    for _ in 0..60_000 {
        let mut bytes = bases[next(bases.len())].clone().into_bytes();
        for _ in 0..1 + next(3) {
            let at = next(bytes.len() + 1);
            match next(4) {
                0 if at < bytes.len() => {
                    bytes.remove(at);
                }
                1 if at < bytes.len() => {
                    let insert = INSERTS[next(INSERTS.len())].as_bytes();
                    bytes.splice(at..at + 1, insert.iter().copied());
                }
                2 => bytes.truncate(at),
                _ => {
                    let insert = INSERTS[next(INSERTS.len())].as_bytes();
                    bytes.splice(at..at, insert.iter().copied());
                }
            }
        }
        let Ok(json) = String::from_utf8(bytes) else {
            continue;
        };
        match fast_view(&json) {
            Some(fast) => {
                fast_accepted += 1;
                assert_eq!(Some(fast), serde_view(&json), "{json}");
            }
            None => fast_declined += 1,
        }
    }
    // Both happen often, so the comparison means something.
    assert!(
        fast_accepted > 2_000 && fast_declined > 20_000,
        "{fast_accepted} accepted, {fast_declined} declined"
    );
}

#[test]
fn string_end_finds_the_first_quote_backslash_or_control_character() {
    let naive = |bytes: &[u8]| {
        bytes
            .iter()
            .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
    };
    let alphabet: &[u8] = &[
        b'a', b'"', b'\\', 0x00, 0x1f, 0x20, 0x21, 0x5b, 0x5d, 0x7f, 0x80, 0xe5, 0xff,
    ];
    let mut rng = crate::test_rng::TestRng(0x9E37_79B9_7F4A_7C15);
    for _ in 0..100_000 {
        let state = rng.next();
        let len = (state % 40) as usize;
        let bytes: Vec<u8> = (0..len)
            .map(|i| {
                let pick = (state >> (i % 60)) as usize ^ i.wrapping_mul(7);
                // Mostly plain bytes, so matches land at every position.
                if pick.is_multiple_of(11) {
                    alphabet[pick % alphabet.len()]
                } else {
                    b'a' + (pick % 26) as u8
                }
            })
            .collect();
        assert_eq!(string_end(&bytes), naive(&bytes), "{bytes:?}");
    }
}
