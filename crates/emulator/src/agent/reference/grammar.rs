//! The closed-class words the reference agent understands: pronouns, auxiliaries, prepositions,
//! conjunctions, discourse markers and question words. Grammar, not domain vocabulary: nothing
//! here names a product, a place or a value.

/// Words that carry no subject: articles, pronouns, auxiliaries, prepositions, conjunctions,
/// question words, common adverbs, and the words people use to ask about memory itself.
#[rustfmt::skip]
pub(super) const STOP_WORDS: &[&str] = &[
    "a", "about", "above", "actually", "after", "again", "against", "all", "also", "am", "an",
    "and", "any", "anymore", "anything", "are", "aren't", "as", "at", "be", "because", "been",
    "before", "being", "below", "between", "both", "but", "by", "can", "can't", "cannot", "could",
    "couldn't", "did", "didn't", "do", "does", "doesn't", "doing", "don't", "down", "during",
    "each", "else", "even", "ever", "every", "everything", "few", "for", "from", "further", "get",
    "got", "had", "hadn't", "has", "hasn't", "have", "haven't", "having", "he", "hello", "her",
    "here", "hers", "herself", "hey", "hi", "him", "himself", "his", "how", "i", "i'd", "i'll",
    "i'm", "i've", "if", "im", "in", "into", "is", "isn't", "it", "it's", "its", "itself", "just",
    "know", "let", "let's", "many", "me", "mine", "more", "most", "much", "must", "my", "myself",
    "no", "nor", "not", "note", "noted", "now", "of", "off", "ok", "okay", "on", "once", "one",
    "only", "or", "other", "our", "ours", "out", "over", "own", "please", "really", "recall",
    "remember", "same", "say", "said", "she", "should", "so", "some", "something", "still", "such",
    "tell", "than", "thank", "thanks", "that", "that's", "the", "their", "theirs", "them", "then",
    "there", "these", "they", "thing", "things", "this", "those", "though", "through", "to", "too",
    "told", "under", "until", "up", "us", "very", "was", "wasn't", "we", "we'd", "we'll", "we're",
    "we've", "were", "weren't", "what", "what's", "whats", "when", "where", "where's", "which", "while", "who", "who's", "whom", "why",
    "will", "with", "won't", "would", "wouldn't", "yes", "yet", "you", "you'd", "you'll", "you're",
    "you've", "your", "yours", "yourself",
];

/// Content words that only say "a preference" without naming what it is about; they count for
/// recall only when a question has no other content word.
#[rustfmt::skip]
pub(super) const FRAME_WORDS: &[&str] = &[
    "always", "favorite", "favourite", "like", "love", "need", "never", "normally", "prefer",
    "preference", "preferences", "preferred", "usual", "usually", "want", "typically",
];

/// Discourse markers that may open a clause ("by the way, …", "heads up: …").
#[rustfmt::skip]
pub(super) const LEADING_MARKERS: &[&str] = &[
    "by the way", "btw", "heads up", "heads-up", "quick update", "update", "fyi", "oh and", "oh",
    "and also", "also", "and", "but", "so", "plus", "actually", "anyway", "well",
    "just so you know", "just to let you know", "for the record", "for your information",
    "please note that", "please note", "note that", "remember that", "please remember that",
    "please remember", "keep in mind that", "keep in mind", "one more thing", "ok", "okay", "hi",
    "hello", "hey", "yes", "sure", "thanks", "thank you", "great", "cool", "just", "oh by the way",
    "and by the way", "also note", "reminder", "can you remember that", "could you remember that",
    "can you note that", "could you note that", "please make a note that", "make a note that",
];

/// Markers that may close a clause ("…, by the way").
#[rustfmt::skip]
pub(super) const TRAILING_MARKERS: &[&str] = &[
    "by the way", "btw", "now", "please", "thanks", "thank you", "though", "as well", "too",
    "anymore", "any more", "these days", "from now on", "right now", "for now",
];

/// Words that start a first-person statement.
#[rustfmt::skip]
pub(super) const FIRST_PERSON: &[&str] = &[
    "i", "i'm", "im", "i've", "i'd", "i'll", "my", "mine",
    "we", "we're", "we've", "we'd", "we'll", "our", "ours",
];

/// Words that start a question or a request.
#[rustfmt::skip]
pub(super) const QUESTION_START: &[&str] = &[
    "what", "what's", "whats", "which", "who", "who's", "whom", "whose", "where", "where's", "when",
    "why", "how", "do", "does", "did", "can", "could", "would", "will", "should", "shall", "is",
    "are", "am", "was", "any", "anything", "tell", "remind", "recommend", "suggest", "book", "plan",
    "find", "show", "give", "list", "help", "check", "reserve", "schedule", "arrange", "pick",
    "choose", "may",
];

/// Words that start a request to forget.
#[rustfmt::skip]
pub(super) const FORGET_START: &[&str] = &[
    "forget", "delete", "erase", "wipe", "remove", "clear",
];

/// Words that may come before a forget verb in a request ("could you please forget …").
#[rustfmt::skip]
pub(super) const FORGET_LEAD: &[&str] = &[
    "please", "can", "could", "would", "will", "you", "kindly", "i", "i'd", "want", "need", "like",
    "to", "just", "now", "ok", "okay", "and", "also", "go", "ahead",
];

#[rustfmt::skip]
pub(super) const ADVERBS: &[&str] = &[
    "always", "usually", "really", "only", "also", "just", "generally", "mostly", "normally",
    "typically", "definitely", "absolutely", "still", "now", "actually", "currently", "strongly",
    "often", "sometimes", "rarely", "mainly", "totally", "honestly", "seriously", "basically",
    "kind", "sort", "of", "even", "probably", "usually,", "much", "rather",
];

#[rustfmt::skip]
pub(super) const NEGATIONS: &[&str] = &[
    "never", "not", "don't", "dont", "no", "can't", "cannot", "cant", "won't", "wouldn't",
    "doesn't", "didn't", "hardly", "shouldn't", "mustn't", "longer",
];

#[rustfmt::skip]
pub(super) const AUXILIARIES: &[&str] = &[
    "do", "does", "did", "can", "could", "will", "would", "should", "must", "might", "may", "have",
    "has", "had", "got", "gotta", "to", "shall", "am", "be",
];

#[rustfmt::skip]
pub(super) const DETERMINERS: &[&str] = &[
    "a", "an", "the", "my", "some", "any", "this", "that", "these", "those", "our", "two", "three",
    "more", "less", "fewer", "many", "much",
];

#[rustfmt::skip]
pub(super) const PREPOSITIONS: &[&str] = &[
    "about", "above", "after", "against", "along", "among", "around", "as", "at", "before",
    "behind", "below", "beside", "between", "by", "during", "except", "for", "from", "in", "inside",
    "into", "like", "near", "of", "off", "on", "onto", "out", "outside", "over", "per", "since",
    "than", "through", "till", "to", "toward", "towards", "under", "until", "up", "upon", "via",
    "with", "within", "without", "based",
];

#[rustfmt::skip]
pub(super) const CONJUNCTIONS: &[&str] = &[
    "and", "or", "but", "so", "because", "if", "when", "while", "which", "that", "who", "whom",
    "where", "whenever", "unless", "though", "although", "since",
];

#[rustfmt::skip]
pub(super) const COPULAS: &[&str] = &[
    "is", "are", "was", "were", "am", "be", "been", "=", "equals",
];

/// Verbs whose object is a preference (the negative ones flip the polarity).
#[rustfmt::skip]
pub(super) const PREFERENCE_VERBS: &[&str] = &[
    "want", "wants", "prefer", "prefers", "like", "likes", "love", "loves", "enjoy", "enjoys",
    "need", "needs", "adore", "favor", "favour", "choose", "pick", "require", "use",
];

#[rustfmt::skip]
pub(super) const NEGATIVE_PREFERENCE_VERBS: &[&str] = &[
    "hate", "hates", "dislike", "dislikes", "avoid", "avoids", "detest", "loathe",
];

/// Words that name memory in general rather than one subject of it.
#[rustfmt::skip]
pub(super) const GENERIC: &[&str] = &[
    "about", "all", "anything", "data", "detail", "details", "everything", "file", "files",
    "history", "info", "information", "me", "memory", "note", "notes", "preference", "preferences",
    "profile", "record", "records", "stuff", "whatever", "what", "you", "know", "said", "told",
    "ever", "thing", "things", "else", "remind", "mentioned", "shared", "saved", "stored", "kept",
    "given", "gave",
];

/// Words that name memory itself: a question made of these and grammar only ("what have you got
/// on file for me?", "remind me what I've told you") asks for everything known.
#[rustfmt::skip]
pub(super) const MEMORY_NAMES: &[&str] = &[
    "remember", "remembered", "know", "knew", "noted", "note", "notes", "recall", "stored", "kept",
    "saved", "file", "files", "record", "records", "told", "said", "remind", "mentioned", "shared",
    "given", "gave", "profile", "info", "information", "data", "details", "memory", "have",
];

/// Words that refer to the speaker or their group.
#[rustfmt::skip]
pub(super) const SPEAKER: &[&str] = &[
    "i", "me", "my", "mine", "myself", "we", "us", "our", "ours", "i'm", "i've", "i'd", "we're",
    "we've", "we'd",
];

/// Light words: verbs and nouns so common that sharing one does not make a note or a line
/// answer a question ("which locksmith did I *use* last *time*?" is not answered by "you use the
/// side gate"). They count for recall only when a question has no other content word.
#[rustfmt::skip]
pub(super) const LIGHT_WORDS: &[&str] = &[
    "use", "used", "using", "make", "made", "take", "took", "taken", "give", "go", "went", "gone",
    "going", "come", "came", "put", "keep", "let", "getting", "bring", "brought", "last", "next",
    "first", "time", "times", "way", "kind", "sort", "type", "lot", "bit", "good",
    "new", "old", "right", "sure", "fine", "best", "nice", "ok", "want", "wanted", "like", "need",
    "needed", "look", "looking",
];

/// Conversational idioms that open with a preference word but state no preference ("no
/// problem", "never mind").
#[rustfmt::skip]
pub(super) const IDIOM_TAILS: &[&str] = &[
    "problem", "problems", "worries", "worry", "idea", "mind", "rush", "matter", "doubt", "way",
    "kidding", "joke", "joking", "thanks", "luck", "clue", "wonder", "need",
];

/// Pronouns a "forget" can point with, meaning "never mind" rather than a fact ("forget it").
#[rustfmt::skip]
pub(super) const DISMISSALS: &[&str] = &[
    "it", "that", "this", "about",
];

/// Words that make a forget request cover everything when nothing more specific is named.
#[rustfmt::skip]
pub(super) const EVERYTHING: &[&str] = &[
    "everything", "all", "me", "my", "anything", "data", "notes", "information", "info", "profile",
    "memory", "whatever",
];

/// Stems of requests that want everything the agent knows applied.
#[rustfmt::skip]
pub(super) const OPEN_STEMS: &[&str] = &[
    "recommend", "suggest", "plan", "idea", "surpris", "advic", "advis",
];

#[rustfmt::skip]
pub(super) const ARRANGE_WORDS: &[&str] = &[
    "book", "reserve", "arrange", "find", "get", "pick", "choose", "organise", "organize",
    "schedule", "order", "sort",
];

/// Nouns that stand for the real subject after a wh-word ("what kind of boiler").
#[rustfmt::skip]
pub(super) const KIND_NOUNS: &[&str] = &[
    "kind", "sort", "type", "make", "model", "brand", "of",
];

/// Question words after which a noun phrase names what is asked for ("which locksmith").
#[rustfmt::skip]
pub(super) const WH_DETERMINERS: &[&str] = &[
    "what", "which", "whose",
];

/// Stems of verbs of having: their objects are things owned, not values of one attribute.
#[rustfmt::skip]
pub(super) const POSSESSION_VERBS: &[&str] = &[
    "have", "has", "had", "own", "got",
];
