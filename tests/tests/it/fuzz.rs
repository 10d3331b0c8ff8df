//! Property tests: the post decoder and the rule parser/matcher never panic,
//! whatever bytes or queries they get.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use weibostream_filter::decode::decode_post;
use weibostream_filter::rules::RuleSet;

const GOOD_POST: &str = r#"{"id":"weibo:1","source":"weibo","text":"建设银行 涨","created_at":"2015-01-21T10:50:05Z","author":{"id":"7","name":"n","followers":3,"verified":true},"url":"https://weibo.com/7/1","reposts":1,"comments":2,"likes":3,"collected_at":"2015-01-21T10:50:06Z"}"#;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn the_decoder_never_panics_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..1500)) {
        let _ = decode_post(Some(&bytes), 1024);
    }

    #[test]
    fn the_decoder_never_panics_on_mangled_posts(cut in 0..GOOD_POST.len(), at in 0..GOOD_POST.len(), byte in any::<u8>()) {
        let mut bytes = GOOD_POST.as_bytes().to_vec();
        bytes[at] = byte;
        let _ = decode_post(Some(&bytes), 4096);
        let _ = decode_post(Some(&GOOD_POST.as_bytes()[..cut]), 4096);
    }

    #[test]
    fn the_rule_parser_and_matcher_never_panic(
        query in "[建设银行涨跌 aAbBnNdDoOrRtT\"()*＊（）ＡＢ-]{0,40}",
        text in "\\PC{0,200}",
    ) {
        if let Ok(rules) = RuleSet::compile(vec![("r".to_string(), query)]) {
            let mut scratch = rules.scratch();
            let mut matched = Vec::new();
            rules.match_text(&text, &mut scratch, &mut matched);
        }
    }

    #[test]
    fn the_rule_parser_never_panics_on_any_text(query in "\\PC{0,120}") {
        let _ = RuleSet::compile(vec![("r".to_string(), query)]);
    }
}

#[test]
fn the_reference_post_decodes() {
    assert_eq!(
        decode_post(Some(GOOD_POST.as_bytes()), 4096).unwrap().id,
        "weibo:1"
    );
}
