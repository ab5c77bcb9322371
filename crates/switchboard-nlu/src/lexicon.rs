//! Words that mean the same thing to a contact centre's customers.
//!
//! A lexical ranker only knows the words of a bot's sample utterances; a
//! customer who says "funds" where the samples say "money" would look like
//! a stranger. Each group below is one meaning; every word in it counts as
//! the group's first word. The groups are general service English (money,
//! people, time, trouble, asking), written for any bot in any trade, not
//! for one bot's intents; the accuracy benchmark reports results with and
//! without them.

/// Groups of words with one meaning; the first word stands for the group.
const GROUPS: &[&[&str]] = &[
    &["money", "funds", "fund", "cash", "dough"],
    &["transfer", "transferring", "transfered", "wire", "shift"],
    &[
        "lost",
        "lose",
        "losing",
        "misplaced",
        "misplace",
        "missing",
        "stolen",
        "steal",
        "stole",
        "theft",
        "thief",
        "pickpocketed",
        "robbed",
        "vanished",
    ],
    &[
        "block",
        "freeze",
        "frozen",
        "suspend",
        "deactivate",
        "disable",
        "stop",
    ],
    &[
        "appointment",
        "appt",
        "meeting",
        "booking",
        "reservation",
        "consultation",
        "visit",
        "session",
    ],
    &[
        "book", "schedule", "arrange", "reserve", "organise", "organize", "setup",
    ],
    &["cancel", "scrap", "annul", "call off", "drop"],
    &["pay", "paying", "payment", "settle", "repay"],
    &["bill", "invoice", "bills", "invoices"],
    &[
        "address",
        "residence",
        "home address",
        "mailing address",
        "postal address",
    ],
    &["moved", "relocate", "relocated", "relocating", "moving"],
    &[
        "password",
        "passcode",
        "pin",
        "passwd",
        "pwd",
        "credentials",
    ],
    &["reset", "recover", "retrieve", "restore", "unlock"],
    &["forgot", "forgotten", "forget", "remember"],
    &[
        "login", "log in", "logon", "log on", "sign in", "signin", "access", "get in", "log into",
    ],
    &[
        "agent",
        "human",
        "person",
        "representative",
        "rep",
        "operator",
        "someone",
        "somebody",
        "advisor",
        "adviser",
        "staff",
        "employee",
        "associate",
        "live person",
        "real person",
        "customer service",
        "man",
        "woman",
        "people",
    ],
    &[
        "speak",
        "talk",
        "chat",
        "connect",
        "transfer me",
        "put me through",
        "speaking",
        "talking",
    ],
    &[
        "hours",
        "opening",
        "open",
        "opens",
        "close",
        "closing",
        "closed",
        "closes",
        "timings",
        "schedule of",
    ],
    &[
        "callback",
        "call back",
        "ring back",
        "phone back",
        "call me",
        "ring me",
        "phone me",
        "give me a call",
        "contact me",
    ],
    &[
        "complain",
        "complaint",
        "complaints",
        "complaining",
        "grievance",
        "unhappy",
        "dissatisfied",
        "disappointed",
        "angry",
        "upset",
        "frustrated",
        "furious",
        "disgusted",
        "appalled",
        "unacceptable",
        "ridiculous",
        "terrible",
        "awful",
        "horrible",
        "worst",
        "rude",
        "poor service",
        "bad service",
    ],
    &["help", "assist", "assistance", "support"],
    &[
        "balance",
        "available balance",
        "how much money",
        "how much is in",
        "how much do i have",
        "how much have i got",
        "funds available",
    ],
    &["account", "acct", "acc"],
    &["card", "debit card", "credit card", "bank card", "atm card"],
    &["change", "update", "amend", "modify", "edit", "correct"],
    &[
        "check", "see", "view", "know", "tell", "show", "find out", "look up", "lookup",
    ],
    &["branch", "office", "location", "store"],
    &["when", "what time"],
    &["later", "afterwards", "another time"],
];

/// Multi-word phrases first: the longest that matches at a position wins.
pub struct Lexicon {
    /// (phrase words, the group's head), longest phrases first.
    phrases: Vec<(Vec<&'static str>, &'static str)>,
}

impl Lexicon {
    /// The built-in lexicon.
    pub fn builtin() -> Lexicon {
        let mut phrases: Vec<(Vec<&'static str>, &'static str)> = GROUPS
            .iter()
            .flat_map(|g| g.iter().map(move |p| (p.split(' ').collect(), g[0])))
            .collect();
        phrases.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.0.cmp(&b.0)));
        Lexicon { phrases }
    }

    /// An empty lexicon: words are only themselves.
    pub fn none() -> Lexicon {
        Lexicon {
            phrases: Vec::new(),
        }
    }

    /// The group head for the phrase at `words[i..]`, and how many words it took.
    pub fn at(&self, words: &[&str], i: usize) -> Option<(&'static str, usize)> {
        self.phrases.iter().find_map(|(p, head)| {
            let end = i + p.len();
            (end <= words.len() && words[i..end] == p[..]).then_some((*head, p.len()))
        })
    }

    /// Every word the lexicon knows, for correcting typed slips.
    pub fn words(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.phrases.iter().flat_map(|(p, _)| p.iter().copied())
    }
}
