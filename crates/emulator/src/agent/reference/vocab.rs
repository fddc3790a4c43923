//! Fixed vocabularies: materials, colours, styles and product categories.

use super::doc::contains_word;

/// Materials and material-like ethics words (lowercase, longest first where they overlap).
pub(super) const MATERIALS: &[&str] = &[
    "vegan leather",
    "faux leather",
    "animal leather",
    "real leather",
    "genuine leather",
    "leather",
    "vegan suede",
    "suede",
    "nubuck",
    "faux fur",
    "fur",
    "merino wool",
    "merino",
    "wool",
    "cashmere",
    "alpaca",
    "mohair",
    "angora",
    "silk",
    "down",
    "feathers",
    "polyester",
    "nylon",
    "acrylic",
    "rayon",
    "viscose",
    "spandex",
    "elastane",
    "organic cotton",
    "cotton",
    "linen",
    "hemp",
    "denim",
    "canvas",
    "latex",
    "nickel",
    "plastic",
    "synthetics",
    "synthetic",
    "synthetic fabrics",
    "bamboo",
    "tencel",
    "recycled materials",
    "natural fibres",
    "natural fibers",
    "animal products",
    "vegan",
    "cruelty-free",
];

/// Materials that come from animals (avoided together when "no animal products" is noted).
pub(super) const ANIMAL: &[&str] = &[
    "leather", "suede", "nubuck", "fur", "wool", "merino", "cashmere", "alpaca", "mohair",
    "angora", "silk", "down", "feathers",
];

/// Leather and leather-like materials that have a vegan counterpart.
pub(super) const LEATHERY: &[&str] = &["leather", "suede", "nubuck"];

/// Colour words and colour families (lowercase).
pub(super) const COLORS: &[&str] = &[
    "earth tones",
    "earth-tones",
    "earthy tones",
    "earthy colors",
    "earthy colours",
    "earthy",
    "neutrals",
    "neutral colors",
    "neutral colours",
    "neutral tones",
    "neutral",
    "pastels",
    "pastel",
    "jewel tones",
    "bright colors",
    "bright colours",
    "brights",
    "dark colors",
    "dark colours",
    "muted tones",
    "muted colors",
    "muted colours",
    "monochrome",
    "black",
    "white",
    "navy",
    "blue",
    "red",
    "green",
    "olive",
    "khaki",
    "camel",
    "tan",
    "brown",
    "beige",
    "rust",
    "terracotta",
    "cognac",
    "grey",
    "gray",
    "charcoal",
    "pink",
    "blush",
    "purple",
    "lavender",
    "lilac",
    "yellow",
    "mustard",
    "orange",
    "burgundy",
    "maroon",
    "cream",
    "ivory",
    "teal",
    "mint",
    "sage",
    "emerald",
    "gold",
    "silver",
    "coral",
];

/// Colours a colour family stands for in suggestions.
pub(super) fn palette_for(word: &str) -> Vec<&'static str> {
    match word {
        "earth tones" | "earth-tones" | "earthy tones" | "earthy colors" | "earthy colours"
        | "earthy" => vec!["camel", "olive", "rust"],
        "neutrals" | "neutral colors" | "neutral colours" | "neutral tones" | "neutral" => {
            vec!["beige", "grey", "cream"]
        }
        "pastels" | "pastel" => vec!["blush", "mint", "lavender"],
        "jewel tones" => vec!["emerald", "sapphire", "ruby"],
        "bright colors" | "bright colours" | "brights" => vec!["red", "cobalt", "yellow"],
        "dark colors" | "dark colours" => vec!["black", "navy", "charcoal"],
        "muted tones" | "muted colors" | "muted colours" => vec!["sage", "dusty blue", "taupe"],
        "monochrome" => vec!["black", "white", "grey"],
        _ => COLORS
            .iter()
            .find(|c| **c == word)
            .map(|c| vec![*c])
            .unwrap_or_default(),
    }
}

pub(super) const STYLES: &[&str] = &[
    "minimalist",
    "minimal",
    "classic",
    "boho",
    "bohemian",
    "casual",
    "smart casual",
    "business casual",
    "formal",
    "preppy",
    "sporty",
    "athleisure",
    "streetwear",
    "vintage",
    "retro",
    "edgy",
    "elegant",
    "modern",
    "timeless",
    "relaxed fit",
    "slim fit",
    "regular fit",
    "fitted",
    "oversized",
    "tailored",
    "understated",
    "romantic",
    "grunge",
    "chic",
];

/// Every vocabulary word found in `lower` (whole words), in vocabulary order, skipping words
/// contained in a longer match (so "vegan leather" does not also report "leather").
pub(super) fn find_all(lower: &str, vocab: &[&'static str]) -> Vec<&'static str> {
    let mut found: Vec<&'static str> = Vec::new();
    for w in vocab {
        if contains_word(lower, w) && !found.iter().any(|f| f.contains(w)) {
            found.push(w);
        }
    }
    found
}

pub(super) fn has_any(lower: &str, vocab: &[&str]) -> bool {
    vocab.iter().any(|w| contains_word(lower, w))
}

/// A product category with three deterministic suggestions.
#[derive(Debug)]
pub(super) struct Category {
    pub label: &'static str,
    /// Words (lowercase) that name it in a request or a catalog line.
    pub words: &'static [&'static str],
    /// Whether suggestions mention the clothing size (`Some(true)`), the shoe size
    /// (`Some(false)`), or no size (`None`).
    pub sized: Option<bool>,
    /// (product, default material)
    pub products: &'static [(&'static str, &'static str)],
    /// A typical price ceiling when no budget is known.
    pub price: u32,
}

pub(super) static CATEGORIES: &[Category] = &[
    Category {
        label: "bag",
        words: &[
            "bag",
            "bags",
            "tote",
            "totes",
            "backpack",
            "backpacks",
            "satchel",
            "satchels",
            "purse",
            "purses",
            "handbag",
            "handbags",
            "briefcase",
            "briefcases",
            "crossbody",
            "clutch",
            "clutches",
        ],
        sized: None,
        products: &[
            ("Structured tote", "leather"),
            ("Laptop backpack", "canvas"),
            ("Crossbody satchel", "leather"),
        ],
        price: 200,
    },
    Category {
        label: "jacket",
        words: &[
            "jacket",
            "jackets",
            "coat",
            "coats",
            "blazer",
            "blazers",
            "parka",
            "parkas",
            "outerwear",
            "bomber",
            "trench",
        ],
        sized: Some(true),
        products: &[
            ("Moto jacket", "leather"),
            ("Bomber jacket", "recycled nylon"),
            ("Trench coat", "organic cotton"),
        ],
        price: 200,
    },
    Category {
        label: "pair of shoes",
        words: &[
            "shoe", "shoes", "boot", "boots", "sneaker", "sneakers", "trainers", "loafers",
            "heels", "sandals", "footwear",
        ],
        sized: Some(false),
        products: &[
            ("Chelsea boots", "leather"),
            ("Minimal sneakers", "leather"),
            ("Loafers", "suede"),
        ],
        price: 180,
    },
    Category {
        label: "dress",
        words: &["dress", "dresses", "gown", "gowns"],
        sized: Some(true),
        products: &[
            ("Wrap dress", "viscose"),
            ("Shirt dress", "organic cotton"),
            ("Knit midi dress", "merino wool"),
        ],
        price: 150,
    },
    Category {
        label: "top",
        words: &[
            "top", "tops", "shirt", "shirts", "blouse", "blouses", "tee", "tees", "t-shirt",
            "t-shirts",
        ],
        sized: Some(true),
        products: &[
            ("Oxford shirt", "organic cotton"),
            ("Relaxed blouse", "silk"),
            ("Everyday tee", "linen"),
        ],
        price: 80,
    },
    Category {
        label: "pair of trousers",
        words: &[
            "pants", "trousers", "jeans", "chinos", "slacks", "leggings", "shorts", "skirt",
            "skirts",
        ],
        sized: Some(true),
        products: &[
            ("Straight-leg trousers", "wool blend"),
            ("Wide-leg pants", "linen"),
            ("Slim jeans", "denim"),
        ],
        price: 120,
    },
    Category {
        label: "sweater",
        words: &[
            "sweater",
            "sweaters",
            "jumper",
            "jumpers",
            "cardigan",
            "cardigans",
            "knitwear",
            "hoodie",
            "hoodies",
            "pullover",
        ],
        sized: Some(true),
        products: &[
            ("Crewneck sweater", "merino wool"),
            ("Button cardigan", "cotton"),
            ("Turtleneck", "cashmere"),
        ],
        price: 150,
    },
    Category {
        label: "scarf",
        words: &["scarf", "scarves", "shawl", "shawls"],
        sized: None,
        products: &[
            ("Knit scarf", "wool"),
            ("Square scarf", "silk"),
            ("Lightweight wrap", "cotton"),
        ],
        price: 80,
    },
    Category {
        label: "hat",
        words: &["hat", "hats", "beanie", "beanies", "cap", "caps", "fedora"],
        sized: None,
        products: &[
            ("Ribbed beanie", "wool"),
            ("Bucket hat", "cotton canvas"),
            ("Baseball cap", "organic cotton"),
        ],
        price: 60,
    },
    Category {
        label: "accessory",
        words: &[
            "wallet",
            "wallets",
            "belt",
            "belts",
            "accessory",
            "accessories",
            "gloves",
            "umbrella",
        ],
        sized: None,
        products: &[
            ("Card wallet", "leather"),
            ("Classic belt", "leather"),
            ("Zip pouch", "canvas"),
        ],
        price: 90,
    },
];

/// The generic set when a request names no known category.
pub(super) static GENERAL: Category = Category {
    label: "few ideas",
    words: &[],
    sized: None,
    products: &[
        ("Everyday tote", "canvas"),
        ("Overshirt", "organic cotton"),
        ("Minimal sneakers", "leather"),
    ],
    price: 150,
};

/// The first category named in `lower` (earliest position wins).
pub(super) fn category_in(lower: &str) -> Option<&'static Category> {
    let mut best: Option<(usize, &'static Category)> = None;
    for c in CATEGORIES {
        for w in c.words {
            if let Some(pos) = first_word_pos(lower, w)
                && best.is_none_or(|(p, _)| pos < p)
            {
                best = Some((pos, c));
            }
        }
    }
    best.map(|(_, c)| c)
}

fn first_word_pos(hay: &str, word: &str) -> Option<usize> {
    let mut start = 0;
    while let Some(pos) = hay.get(start..)?.find(word) {
        let at = start + pos;
        let end = at + word.len();
        let before_ok = hay[..at]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_alphanumeric());
        let after_ok = hay[end..]
            .chars()
            .next()
            .is_none_or(|c| !c.is_alphanumeric());
        if before_ok && after_ok {
            return Some(at);
        }
        start = at + word.len();
    }
    None
}

/// Common words that never serve as request keywords.
pub(super) const STOPWORDS: &[&str] = &[
    "a",
    "an",
    "the",
    "and",
    "or",
    "but",
    "for",
    "with",
    "without",
    "about",
    "from",
    "into",
    "onto",
    "i",
    "i'm",
    "im",
    "i'd",
    "i've",
    "i'll",
    "me",
    "my",
    "mine",
    "you",
    "your",
    "we",
    "our",
    "it",
    "its",
    "it's",
    "this",
    "that",
    "these",
    "those",
    "some",
    "any",
    "something",
    "anything",
    "new",
    "need",
    "want",
    "would",
    "could",
    "should",
    "can",
    "will",
    "like",
    "love",
    "looking",
    "look",
    "find",
    "get",
    "buy",
    "please",
    "thanks",
    "thank",
    "suggest",
    "suggestion",
    "suggestions",
    "recommend",
    "recommendation",
    "recommendations",
    "ideas",
    "idea",
    "options",
    "show",
    "help",
    "what",
    "which",
    "where",
    "when",
    "who",
    "how",
    "why",
    "do",
    "does",
    "did",
    "is",
    "are",
    "was",
    "were",
    "be",
    "been",
    "have",
    "has",
    "had",
    "to",
    "of",
    "in",
    "on",
    "at",
    "by",
    "as",
    "so",
    "too",
    "also",
    "just",
    "really",
    "very",
    "good",
    "great",
    "nice",
    "back",
    "hey",
    "hi",
    "hello",
    "there",
    "again",
    "today",
    "now",
    "one",
    "ones",
    "them",
    "they",
    "him",
    "her",
    "his",
    "she",
    "he",
    "us",
    "said",
    "told",
    "tell",
    "know",
    "remember",
    "forget",
    "that's",
    "what's",
    "any",
    "shopping",
    "shop",
    "store",
    "some",
    "more",
    "much",
    "many",
    "other",
    "else",
];

/// Content words (lowercase, 3+ letters, not stopwords) of a text, in order, deduplicated.
pub(super) fn content_words(lower: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for w in lower.split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '-')) {
        let w = w.trim_matches(|c: char| c == '\'' || c == '-');
        if w.chars().count() < 3 || STOPWORDS.contains(&w) || w.chars().all(|c| c.is_ascii_digit())
        {
            continue;
        }
        if !out.iter().any(|o| o == w) {
            out.push(w.to_string());
        }
    }
    out
}
