//! Word lists and templates for [`crate::synthetic`].
//!
//! A template is text with `{slot}` placeholders; [`slot`] maps each slot name
//! to a word list. Word lists are single strings separated by `|`. Category
//! weights and the bank list are tuned so that the rule `建设银行 AND 涨`
//! matches roughly 2% of the generated posts.

/// A topic of posts: how often it is picked, its hashtags and its templates.
pub struct Category {
    /// Relative weight among the categories of one language.
    pub weight: u32,
    /// Hashtag topics, without the surrounding `#`, separated by `|`.
    pub topics: &'static str,
    /// Post bodies with `{slot}` placeholders.
    pub templates: &'static [&'static str],
}

/// Categories of Chinese posts.
pub const ZH_CATEGORIES: &[Category] = &[
    Category {
        weight: 18,
        topics: "今日份日常|打工人的一天|周末愉快|生活碎片",
        templates: &[
            "今天{time}{feel_zh}，{daily_zh}，感觉整个人都被治愈了",
            "{time}去{bank}办了张卡，排队排了一个小时，{feel_zh}",
            "又是被闹钟叫醒的一天，{daily_zh}，希望今天一切顺利",
            "{daily_zh}，然后发现钥匙忘在公司了，今天真是{feel_zh}",
            "房租又涨了，工资没涨，{feel_zh}，打工人太难了",
            "和{name_zh}一起{daily_zh}，聊了一整晚，好久没这么开心了",
            "下班路上看到一只小猫，蹲在便利店门口，{feel_zh}，拍了好多张照片",
            "终于把拖了三个月的事情做完了，{daily_zh}犒劳一下自己",
        ],
    },
    Category {
        weight: 14,
        topics: "吃货的日常|美食探店|今天吃什么",
        templates: &[
            "{time}在{city}吃到了超好吃的{food_zh}，排队四十分钟也值了",
            "自己在家做了{food_zh}，第一次做居然成功了，{feel_zh}",
            "{city}的{food_zh}到底哪家最正宗？求推荐，在线等",
            "减肥第三天，没忍住点了{food_zh}和奶茶，明天再说吧",
            "楼下新开了一家{food_zh}，味道一般但是老板人很好，还送了饮料",
            "最近菜价又涨了，一把青菜都要八块钱，还是自己带饭吧",
        ],
    },
    Category {
        weight: 10,
        topics: "天气预报|降温|下雨天",
        templates: &[
            "{city}今天{weather_zh}，出门记得带伞，别像我一样淋成落汤鸡",
            "{weather_zh}，气温骤降，大家注意保暖，不要感冒了",
            "{time}的{city}{weather_zh}，天空特别好看，随手拍了一张",
            "这天气也太离谱了，上午还是大太阳，下午就{weather_zh}",
        ],
    },
    Category {
        weight: 10,
        topics: "电影推荐|周末看什么|追剧日常",
        templates: &[
            "刚看完《{film_zh}》，后劲太大了，{feel_zh}，强烈推荐",
            "《{film_zh}》的结局到底什么意思？看完一直在想",
            "{time}重温了《{film_zh}》，每次看都有新的感受",
            "《{film_zh}》票房又涨了，这部片真的值得二刷",
            "和{name_zh}去看了《{film_zh}》，全场都在哭，我也没忍住",
        ],
    },
    Category {
        weight: 9,
        topics: "体育|中超|NBA|奥运会",
        templates: &[
            "{team_zh}今晚这场打得太精彩了，最后三分钟逆转，{feel_zh}",
            "{team_zh}又输了，这个防守真的看不下去，下赛季加油吧",
            "{time}去体育场看了{team_zh}的比赛，现场气氛太燃了",
            "早上跑了五公里，配速又进步了，坚持打卡第{number}天",
        ],
    },
    Category {
        weight: 9,
        topics: "数码|科技|新品发布会",
        templates: &[
            "入手了{phone}，用了一周说说感受：续航不错，拍照很强，就是有点重",
            "{phone}的发布会看了吗？价格又涨了，{feel_zh}",
            "公司终于接入大模型了，写周报快多了，老板说下个月要全员培训",
            "手机更新系统之后耗电好快，有没有人遇到同样的问题",
            "{tech_zh}真的会改变我们的工作方式吗？说说你的看法",
        ],
    },
    Category {
        weight: 10,
        topics: "旅行|说走就走的旅行|假期去哪儿",
        templates: &[
            "在{city}的第三天，{daily_zh}，这座城市真的太美了",
            "{time}的高铁去{city}，计划好了三天的行程，{feel_zh}",
            "{city}的夜景也太好看了吧，拍照根本停不下来",
            "假期去{city}的人好多，景区门票又涨了，还好提前订了酒店",
        ],
    },
    Category {
        weight: 20,
        topics: "今日股市|银行股|A股|财经",
        templates: &[
            "{bank}今天{move_zh}{pct}，{comment_zh}",
            "{bank}{move_zh}了，{comment_zh}，大家怎么看",
            "午盘{bank}{move_zh}{pct}，银行板块整体{move_zh}",
            "{bank}年报出来了，净利润{move_zh}{pct}，分红还不错",
            "{stock}今天{move_zh}{pct}，{comment_zh}",
            "大盘{move_zh}，我的{stock}又被套了，{feel_zh}",
            "上证指数今天{move_zh}{pct}，成交额突破一万亿",
            "存款利率又降了，{bank}的定期现在只有{pct}，钱该放哪儿",
        ],
    },
];

/// Categories of English posts.
pub const EN_CATEGORIES: &[Category] = &[
    Category {
        weight: 18,
        topics: "DailyLife|MondayMood|WeekendVibes",
        templates: &[
            "Finally {daily_en} after a long week. {feel_en}",
            "Spent the {time_en} {daily_en} with {name_en}, honestly the best part of my week",
            "Rent went up again and my salary did not. {feel_en}",
            "Saw the cutest cat outside the convenience store on my way home, {feel_en}",
        ],
    },
    Category {
        weight: 14,
        topics: "Foodie|WhatIAteToday",
        templates: &[
            "Tried {food_en} in {city_en} this {time_en} and it was worth the 40 minute queue",
            "Made {food_en} at home for the first time and it actually worked. {feel_en}",
            "Any recommendations for the best {food_en} in {city_en}? Asking for a friend",
        ],
    },
    Category {
        weight: 12,
        topics: "Movies|NowWatching|Travel",
        templates: &[
            "Just finished watching {film_en}. {feel_en} Highly recommend it",
            "Three days in {city_en} and I already want to move here, the food is amazing",
            "Is {film_en} worth watching in cinemas? Reviews seem mixed",
            "Weather in {city_en} today: {weather_en}. Packed the wrong clothes again",
        ],
    },
    Category {
        weight: 12,
        topics: "Tech|AI|Sports",
        templates: &[
            "Got the new {phone} last week: battery is great, the camera is even better",
            "Hot take: {tech_en} will change how we work sooner than people think",
            "What a game from {team_en} tonight, a comeback in the last three minutes!",
            "Day {number} of running every morning. Slowly getting faster",
        ],
    },
    Category {
        weight: 20,
        topics: "Markets|Banking|Stocks",
        templates: &[
            "{bank_en} shares {move_en} {pct} today as investors weigh the rate outlook",
            "{bank_en} {move_en} {pct} in early trading, {comment_en}",
            "Expecting {bank_en} to {move_base_en} after the earnings call, {comment_en}",
            "Hang Seng {move_en} {pct} as bank stocks lead the session",
            "My portfolio is all bank stocks and {bank_en} just made my day. {feel_en}",
        ],
    },
];

/// Words for a `{slot}` placeholder; `None` for an unknown slot name.
pub fn slot(name: &str) -> Option<&'static str> {
    Some(match name {
        // Construction Bank appears three times: the demo rule is about it.
        "bank" => concat!(
            "建设银行|建设银行|建设银行|工商银行|招商银行|中国银行|农业银行|",
            "交通银行|中国建设银行|浦发银行",
        ),
        "move_zh" => "涨|大涨|上涨|涨停|小幅上涨|涨了|跌|下跌|大跌|跌了",
        "pct" => "0.3%|0.8%|1.2%|1.5%|2.1%|2.6%|3.4%|4.8%|5.2%|9.9%|10%",
        "comment_zh" => concat!(
            "感觉还有空间|准备加仓了|拿了三年终于回本|先观望一下|这波我没上车|",
            "股市有风险，投资需谨慎|银行股还是稳|明天估计要回调|散户又被收割了",
        ),
        "stock" => "贵州茅台|宁德时代|比亚迪|中国平安|腾讯控股|隆基绿能|中芯国际",
        "time" => "早上|中午|下午|晚上|周末|今天|昨天|凌晨",
        "feel_zh" => concat!(
            "开心到飞起|有点emo|心情超好|累到不想说话|太幸福了|无语了|",
            "真的绷不住了|整个人都放松了|有被感动到",
        ),
        "daily_zh" => concat!(
            "在家做了一顿饭|去公园散了个步|把房间收拾了一遍|",
            "去健身房撸了一个小时铁|在咖啡店坐了一下午|看完了一本书|",
            "陪爸妈逛了超市|和朋友去唱K",
        ),
        "food_zh" => "火锅|小龙虾|螺蛳粉|烤鸭|生煎包|热干面|麻辣烫|煲仔饭|羊肉串|肠粉",
        "city" => "北京|上海|广州|深圳|成都|杭州|重庆|西安|武汉|长沙|南京|厦门",
        "weather_zh" => "下暴雨|大雾|降温十度|晴空万里|下雪了|刮大风|闷热得不行",
        "film_zh" => concat!(
            "流浪地球2|哪吒之魔童闹海|满江红|你好，李焕英|长津湖|封神第一部|",
            "热辣滚烫|第二十条",
        ),
        "team_zh" => "国足|湖人|勇士|上海申花|北京国安|中国女排|皇马",
        "phone" => "iPhone 16 Pro|华为Mate 70|小米15|vivo X200|OPPO Find X8|Pixel 9",
        "tech_zh" => "人工智能|大模型|自动驾驶|量子计算|人形机器人",
        "name_zh" => "闺蜜|室友|老同学|男朋友|女朋友|同事",
        "number" => "3|7|12|21|30|45|66|100|128|365",
        "bank_en" => concat!(
            "China Construction Bank|ICBC|Bank of China|HSBC|",
            "Agricultural Bank of China|Bank of Communications|",
            "China Merchants Bank|Standard Chartered",
        ),
        "move_en" => "rises|rose|surges|jumps|climbs|falls|fell|drops|slides|slumps",
        "move_base_en" => "rise|surge|rally|fall|drop|slide",
        "comment_en" => concat!(
            "not financial advice|still holding|time to take profits|",
            "the market makes no sense|buying the dip|dividends look solid",
        ),
        "feel_en" => concat!(
            "Feeling great.|Kind of exhausted.|Honestly so happy.|Not my day.|",
            "Can't complain.|Mood: tired but happy.",
        ),
        "daily_en" => concat!(
            "cleaning the whole apartment|reading in a cafe|hiking up the hill|",
            "cooking dinner for friends|finishing a puzzle|walking by the river",
        ),
        "time_en" => "morning|afternoon|evening|weekend",
        "name_en" => "my roommate|old friends|my sister|the team|my parents",
        "food_en" => "hot pot|crayfish|Peking duck|soup dumplings|dan dan noodles|dim sum",
        "city_en" => "Beijing|Shanghai|Chengdu|Hong Kong|Shenzhen|Hangzhou|Xi'an",
        "weather_en" => "heavy rain|thick fog|sunny and 30C|snow|strong wind",
        "film_en" => "The Wandering Earth 2|Ne Zha 2|Dune: Part Two|Oppenheimer|Inside Out 2",
        "team_en" => "the Lakers|the Warriors|Real Madrid|China's volleyball team",
        "tech_en" => "generative AI|self-driving cars|quantum computing|humanoid robots",
        _ => return None,
    })
}

/// Weibo emoji codes, as they appear in status text.
pub const EMOJI: &str =
    "[哈哈]|[赞]|[泪]|[笑cry]|[doge]|[允悲]|[心]|[二哈]|[吃瓜]|[微笑]|[抓狂]|[good]";

/// Short comments that precede a `//@name:` repost chain.
pub const REPOST_COMMENTS: &str =
    "转发微博|说得太对了|哈哈哈哈哈|mark一下|同感|学到了|真的假的|Agreed|This.|lol";

/// Clients and their relative weights.
pub const CLIENTS: &[(&str, u32)] = &[
    ("iPhone客户端", 30),
    ("Android", 20),
    ("微博 weibo.com", 15),
    ("HUAWEI Mate 60 Pro", 10),
    ("小米14 Ultra", 6),
    ("iPad客户端", 5),
    ("vivo X100", 5),
    ("OPPO Find X7", 4),
    ("微博国际版", 3),
    ("微博轻享版", 2),
];

/// Parts of Chinese nicknames: prefix, core, suffix.
pub const ZH_NAME_PARTS: [&str; 3] = [
    "小|阿|大|老|爱吃|不会|快乐的|今天也要|一只|||会飞的",
    "鱼|猫|橙子|月亮|土豆|兔子|西瓜|柠檬|星星|面包|森林|咸鱼|奶茶|熊猫|小王|程序员|胖虎|桃子",
    "||同学|酱|君|_|呀|2018|的日常|不吃香菜|Official|_Sky",
];

/// Parts of English handles: adjective, noun, suffix.
pub const EN_NAME_PARTS: [&str; 3] = [
    "sunny|lazy|happy|urban|quiet|night|travel|coffee|pixel|lucky",
    "cat|fox|owl|runner|chef|coder|wanderer|reader|panda|trader",
    "|88|_cn|2024|_official|01|x|_bj|_sh",
];
