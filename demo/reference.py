"""Static reference data the demo draws from: countries, zones, money, names, words.

Everything here is a constant tuple so the generator's output depends only on
its parameters and seed (no set or dict ordering is ever iterated to draw).
Index positions matter: arrays elsewhere hold indices into these tuples.
"""

from __future__ import annotations

# fmt: off
COUNTRIES = ("US", "GB", "DE", "TR")
COUNTRY_P = (0.45, 0.20, 0.20, 0.15)
LANGUAGES = ("en", "en", "de", "tr")
CURRENCIES = ("USD", "GBP", "EUR", "TRY")
# Units of local currency per US dollar: a rough fixed rate is enough for a demo.
FX_PER_USD = (1.0, 0.79, 0.92, 34.5)

TIME_ZONES = (
    "America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles",
    "Europe/London", "Europe/Berlin", "Europe/Istanbul",
)
TZ_COUNTRY = (0, 0, 0, 0, 1, 2, 3)
# Only used to give online activity a plausible local hour; DST does not matter there.
TZ_STD_OFFSET_HOURS = (-5, -6, -7, -8, 0, 1, 3)
US_TZ_P = (0.45, 0.25, 0.08, 0.22)

# Per country: (female first names, male first names, last names).
NAMES = (
    (
        ("Emma", "Olivia", "Ava", "Sophia", "Mia", "Amelia", "Harper", "Evelyn", "Abigail",
         "Emily", "Madison", "Chloe", "Grace", "Zoe", "Nora", "Lily", "Hannah", "Ella"),
        ("Liam", "Noah", "William", "James", "Benjamin", "Lucas", "Henry", "Alexander",
         "Mason", "Michael", "Ethan", "Daniel", "Jacob", "Logan", "Jackson", "Owen", "Samuel"),
        ("Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
         "Rodriguez", "Martinez", "Hernandez", "Lopez", "Wilson", "Anderson", "Thomas",
         "Taylor", "Moore", "Martin", "Lee", "O'Brien", "O'Connor", "Nguyen", "Kim", "Patel"),
    ),
    (
        ("Olivia", "Amelia", "Isla", "Ava", "Ivy", "Lily", "Isabella", "Rosie", "Freya",
         "Poppy", "Evie", "Florence", "Willow", "Siobhan", "Niamh", "Grace"),
        ("Oliver", "George", "Arthur", "Noah", "Muhammad", "Leo", "Harry", "Oscar", "Archie",
         "Jack", "Charlie", "Freddie", "Alfie", "Theo", "Rhys", "Callum"),
        ("Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Davies", "Robinson",
         "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall",
         "Wood", "Clarke", "O'Neill", "McDonald", "O'Sullivan", "Hughes", "Patel"),
    ),
    (
        ("Sophie", "Marie", "Emilia", "Mia", "Hannah", "Lena", "Anna", "Emma", "Leonie",
         "Clara", "Johanna", "Greta", "Frieda", "Käthe", "Ida", "Jülide"),
        ("Noah", "Ben", "Paul", "Leon", "Finn", "Elias", "Felix", "Jonas", "Luis",
         "Maximilian", "Lukas", "Jürgen", "Jörg", "Matthias", "Tobias", "Niklas"),
        ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
         "Schulz", "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf",
         "Schröder", "Neumann", "Zimmermann", "Braun", "Krüger", "Hartmann", "Weiß", "Groß"),
    ),
    (
        ("Zeynep", "Elif", "Ecrin", "Yağmur", "Defne", "Eylül", "Azra", "Nehir", "Ayşe",
         "Fatma", "Emine", "Hatice", "Merve", "Büşra", "Özge", "Gülşen", "İrem"),
        ("Yusuf", "Eymen", "Ömer", "Mustafa", "Mehmet", "Ahmet", "Ali", "Emir", "Hüseyin",
         "Hasan", "İbrahim", "Murat", "Çağrı", "Burak", "Oğuz", "Kerem"),
        ("Yılmaz", "Kaya", "Demir", "Şahin", "Çelik", "Yıldız", "Yıldırım", "Öztürk",
         "Aydın", "Özdemir", "Arslan", "Doğan", "Kılıç", "Aslan", "Çetin", "Kara", "Koç",
         "Kurt", "Özkan", "Şimşek"),
    ),
)

EMAIL_DOMAINS = (
    ("gmail.com", "yahoo.com", "outlook.com", "icloud.com", "hotmail.com"),
    ("gmail.com", "hotmail.co.uk", "outlook.com", "btinternet.com", "yahoo.co.uk"),
    ("gmail.com", "web.de", "gmx.de", "t-online.de", "outlook.de"),
    ("gmail.com", "hotmail.com", "yandex.com.tr", "outlook.com", "icloud.com"),
)

# Letters an e-mail local part spells differently, per country.
TRANSLITERATION = (
    {},
    {},
    {"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"},
    {"ı": "i", "İ": "i", "ğ": "g", "ş": "s", "ç": "c", "ö": "o", "ü": "u"},
)

GENDERS = ("female", "male", "unspecified")
GENDER_P = (0.50, 0.47, 0.03)
CRM_GENDER_LABELS = ("Female", "Male", "Non-binary")

# Store names per country with their time zone index; cycled when --stores asks for more.
STORE_SITES = (
    (("New York SoHo", 0), ("Los Angeles Melrose", 3), ("Chicago Loop", 1),
     ("Denver LoDo", 2), ("Brooklyn Williamsburg", 0), ("San Francisco Hayes Valley", 3)),
    (("London Covent Garden", 4), ("Manchester Arndale", 4), ("Edinburgh Princes Street", 4)),
    (("Berlin Mitte", 5), ("München Maxvorstadt", 5), ("Hamburg Schanze", 5)),
    (("İstanbul Kadıköy", 6), ("İstanbul Nişantaşı", 6), ("Ankara Kızılay", 6)),
)

CATEGORIES = ("Apparel", "Shoes", "Accessories", "Beauty", "Home", "Outdoor")
# Share of lines falling in each category when a buyer strays from their favourite.
CATEGORY_P = (0.30, 0.17, 0.16, 0.13, 0.14, 0.10)
CATEGORY_P_PEOPLE = (0.28, 0.16, 0.15, 0.16, 0.15, 0.10)
CATEGORY_VENDORS = (
    "Northwind Apparel", "Stride & Co", "Atlas Goods", "Bloom Beauty", "Hearth Home",
    "Ridgeline Outdoor",
)
# (min, max) base price in USD per category.
CATEGORY_PRICE = ((15, 180), (45, 260), (9, 190), (6, 95), (9, 160), (12, 420))
CATEGORY_NOUNS = (
    ("Crew Tee", "Oxford Shirt", "Merino Sweater", "Hoodie", "Chinos", "Denim Jacket",
     "Linen Shirt", "Rain Jacket", "Puffer Vest", "Wool Coat", "Polo", "Joggers"),
    ("Sneaker", "Runner", "Chelsea Boot", "Loafer", "Sandal", "Trail Shoe", "Hiking Boot",
     "Slip-On"),
    ("Backpack", "Wallet", "Beanie", "Scarf", "Belt", "Sunglasses", "Watch", "Cap",
     "Gloves", "Card Holder"),
    ("Face Cream", "Lip Balm", "Shampoo", "Body Wash", "Serum", "Hand Cream", "Eau de Parfum",
     "Sunscreen SPF 50"),
    ("Candle", "Throw Blanket", "Cushion Cover", "Vase", "Towel Set", "Diffuser",
     "Table Lamp", "Linen Napkins"),
    ("Tent", "Sleeping Bag", "Water Bottle", "Headlamp", "Camp Chair", "Trekking Poles",
     "Daypack", "Cooler"),
)
ADJECTIVES = ("Classic", "Relaxed", "Slim", "Organic", "Heritage", "Everyday", "Premium",
              "Lightweight", "Essential", "Signature", "Coastal", "Alpine")
COLORS = ("Black", "Navy", "Olive", "Sand", "Grey", "White", "Rust", "Forest")
# A few real-world titles that need CSV quoting and JSON escaping.
AWKWARD_PRODUCTS = (
    (2, "Canvas Tote, Large"),
    (4, 'Terracotta Planter 12"'),
    (4, "Mug Set, 4 pcs"),
    (0, 'Rain Jacket "Storm" Edition'),
)

PAYMENT_METHODS = ("Card", "Mobile", "Cash", "Gift Card")
PAYMENT_P = (0.60, 0.20, 0.15, 0.05)

# (code, percent off, fixed amount off in local currency units per currency or None)
DISCOUNT_CODES = (
    ("WELCOME10", 10, None),
    ("SPRING15", 15, None),
    ("LOYAL15", 15, None),
    ("SAVE20", 20, None),
    ("BFCM25", 25, None),
    ("TAKE10", None, (10, 10, 10, 300)),
)
BFCM_CODE = 4
FIXED_CODE = 5

SHOP_CANCEL_REASONS = ("customer", "inventory", "fraud", "declined", "other")

LEAD_STATUSES = ("New", "Open", "In progress", "Open deal", "Connected", "Attempted to contact",
                 "Unqualified", "Bad timing")

TICKET_SUBJECTS = (
    "Where is my order?", "Return request", "Wrong size delivered", "Damaged item",
    "Change shipping address", "Loyalty points missing", "Refund not received",
    "Question about a product", "Stop texting me", "Discount code not working",
    "Exchange in store", "Invoice copy needed",
)
TICKET_PRIORITIES = ("LOW", "MEDIUM", "HIGH")
TICKET_PRIORITY_P = (0.5, 0.35, 0.15)

CONSENT_SOURCES = ("web_form", "pos_keypad", "keyword", "checkout_box")
OPT_OUT_KEYWORDS = ("STOP", "Stop", "stop", "UNSUBSCRIBE", "STOPALL")
OPT_OUT_KEYWORD_P = (0.80, 0.07, 0.06, 0.04, 0.03)
# fmt: on
