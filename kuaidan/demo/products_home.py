"""Demo listings of the kitchen shop (GK) and the beauty shop (BC)."""

from __future__ import annotations

from kuaidan.demo.spec import ProductTemplate, colours, options

ORIGIN_YONGKANG = ("产地 Origin", "浙江永康 Yongkang, Zhejiang")
ORIGIN_YANGJIANG = ("产地 Origin", "广东阳江 Yangjiang, Guangdong")
ORIGIN_JINGDEZHEN = ("产地 Origin", "江西景德镇 Jingdezhen, Jiangxi")
ORIGIN_SHANGHAI = ("产地 Origin", "上海 Shanghai")
ORIGIN_GUANGZHOU = ("产地 Origin", "广东广州 Guangzhou, Guangdong")
SHADES = options(
    "色号 Shade",
    ("#01 象牙白 Ivory", "01", 0),
    ("#02 自然色 Natural", "02", 0),
    ("#03 小麦色 Wheat", "03", 0),
)

GOOD_KITCHEN: tuple[ProductTemplate, ...] = (
    ProductTemplate(
        code="GK01",
        slug="iron-wok",
        category_slug="cookware",
        shape="wok",
        title="章丘手工铁锅 无涂层炒锅 Zhangqiu Hand-forged Iron Wok",
        short_en="Iron Wok",
        description="千锤百炼手工锻打,无化学涂层,越用越不粘。 Hand-hammered thousands of times, "
        "no chemical coating, more non-stick with every use.",
        specs=(
            ("材质 Material", "熟铁 Wrought iron"),
            ("产地 Origin", "山东章丘 Zhangqiu, Shandong"),
        ),
        price_fen=16800,
        list_price_fen=22800,
        axes=(
            options("直径 Diameter", ("30cm", "30", 0), ("32cm", "32", 2000), ("34cm", "34", 4000)),
        ),
        tint="#3b3b3d",
    ),
    ProductTemplate(
        code="GK02",
        slug="nonstick-pan",
        category_slug="cookware",
        shape="pan",
        title="麦饭石不粘平底锅 煎锅 Maifan-stone Non-stick Frying Pan",
        short_en="Non-stick Pan",
        description="少油不粘,电磁炉燃气灶通用。 "
        "Cooks with little oil; works on induction and gas.",
        specs=(
            ("涂层 Coating", "麦饭石 Maifan stone"),
            ("适用炉具 Hob", "通用 All hobs"),
            ORIGIN_YONGKANG,
        ),
        price_fen=8900,
        list_price_fen=13900,
        axes=(
            colours("BRN", "GRY"),
            options("直径 Diameter", ("24cm", "24", 0), ("28cm", "28", 2000)),
        ),
    ),
    ProductTemplate(
        code="GK03",
        slug="casserole",
        category_slug="cookware",
        shape="pot",
        title="珐琅铸铁锅 炖锅 Enamelled Cast-iron Casserole",
        short_en="Cast-iron Casserole",
        description="锅盖自循环水珠,锁住原汁原味。 A self-basting lid that keeps every drop of "
        "flavour.",
        specs=(
            ("材质 Material", "铸铁 Cast iron + 珐琅 Enamel"),
            ("重量 Weight", "4.2 kg"),
            ORIGIN_YONGKANG,
        ),
        price_fen=39900,
        list_price_fen=59900,
        axes=(
            colours("RED", "BLU", "CRM"),
            options("直径 Diameter", ("20cm", "20", 0), ("24cm", "24", 8000)),
        ),
    ),
    ProductTemplate(
        code="GK04",
        slug="chef-knife",
        category_slug="knives",
        shape="knife",
        title="阳江大马士革钢厨师刀 Yangjiang Damascus Chef's Knife",
        short_en="Chef's Knife",
        description="67层大马士革钢,硬度60HRC,锋利持久。 67-layer Damascus steel at 60 HRC, "
        "sharp for longer.",
        specs=(
            ("钢材 Steel", "VG10 大马士革 Damascus"),
            ("硬度 Hardness", "60 HRC"),
            ORIGIN_YANGJIANG,
        ),
        price_fen=29900,
        axes=(options("刃长 Blade", ("20cm", "20", 0), ("23cm", "23", 3000)),),
        tint="#9aa3ad",
    ),
    ProductTemplate(
        code="GK05",
        slug="cleaver",
        category_slug="knives",
        shape="cleaver",
        title="不锈钢切片菜刀 家用 Stainless Chinese Slicing Cleaver",
        short_en="Cleaver",
        description="切肉切菜一把搞定,刀柄防滑。 One blade for meat and vegetables, with a "
        "non-slip handle.",
        specs=(("钢材 Steel", "5Cr15MoV"), ("刃长 Blade", "19 cm"), ORIGIN_YANGJIANG),
        price_fen=6900,
        list_price_fen=9900,
        axes=(options("款式 Style", ("切片刀 Slicer", "SL", 0), ("斩切刀 Chopper", "CH", 1000)),),
        tint="#c0c6cc",
    ),
    ProductTemplate(
        code="GK06",
        slug="porcelain-bowls",
        category_slug="tableware",
        shape="bowl",
        title="景德镇釉下彩陶瓷饭碗 4只装 Jingdezhen Underglaze Porcelain Bowls ×4",
        short_en="Porcelain Bowls",
        description="釉下彩工艺,无铅无镉,可进洗碗机。 Underglaze colour, lead- and cadmium-free, "
        "dishwasher safe.",
        specs=(
            ("材质 Material", "高白瓷 Porcelain"),
            ("口径 Diameter", "11.5 cm"),
            ORIGIN_JINGDEZHEN,
        ),
        price_fen=5900,
        axes=(colours("BLU", "WHT", "GRN"),),
    ),
    ProductTemplate(
        code="GK07",
        slug="chopsticks",
        category_slug="tableware",
        shape="chopsticks",
        title="合金筷子 家用防霉 10双装 Alloy Chopsticks, Mould-proof ×10 Pairs",
        short_en="Chopsticks",
        description="耐高温可消毒,不发霉不变形。 Heat tolerant and sterilisable; will not "
        "mould or warp.",
        specs=(("材质 Material", "合金 PPS alloy"), ("长度 Length", "24 cm"), ORIGIN_GUANGZHOU),
        price_fen=2990,
        axes=(colours("BLK", "BRN", "RED"),),
    ),
    ProductTemplate(
        code="GK08",
        slug="electric-kettle",
        category_slug="appliances",
        shape="kettle",
        title="304不锈钢电热水壶 1.7L 304 Steel Electric Kettle 1.7L",
        short_en="Electric Kettle",
        description="1800W快速烧水,自动断电防干烧。 1800 W quick boil with auto shut-off and "
        "boil-dry protection.",
        specs=(
            ("功率 Power", "1800 W"),
            ("容量 Capacity", "1.7 L"),
            ("产地 Origin", "广东佛山 Foshan"),
        ),
        price_fen=9900,
        list_price_fen=14900,
        axes=(colours("WHT", "BLK", "GRN"),),
    ),
    ProductTemplate(
        code="GK09",
        slug="rice-cooker",
        category_slug="appliances",
        shape="ricecooker",
        title="智能IH电饭煲 家用多功能 Smart IH Rice Cooker",
        short_en="IH Rice Cooker",
        description="IH电磁加热,24小时预约,柴火饭口感。 IH induction heating, 24-hour timer, "
        "rice like a wood fire.",
        specs=(
            ("加热方式 Heating", "IH 电磁 Induction"),
            ("功率 Power", "1000 W"),
            ("产地 Origin", "广东佛山 Foshan"),
        ),
        price_fen=49900,
        list_price_fen=69900,
        axes=(options("容量 Capacity", ("3L", "3L", 0), ("4L", "4L", 10000), ("5L", "5L", 20000)),),
        tint="#eeeeec",
    ),
    ProductTemplate(
        code="GK10",
        slug="air-fryer",
        category_slug="appliances",
        shape="airfryer",
        title="可视空气炸锅 大容量 Window Air Fryer, Large Capacity",
        short_en="Air Fryer",
        description="可视窗口,无油少烟,8大菜单。 "
        "A viewing window, oil-free cooking, eight presets.",
        specs=(
            ("功率 Power", "1500 W"),
            ("容量 Capacity", "5.5 L"),
            ("产地 Origin", "广东中山 Zhongshan"),
        ),
        price_fen=29900,
        axes=(
            colours("BLK", "CRM"),
            options("容量 Capacity", ("5.5L", "5L", 0), ("7L", "7L", 6000)),
        ),
    ),
    ProductTemplate(
        code="GK11",
        slug="soymilk-maker",
        category_slug="appliances",
        shape="blender",
        title="破壁豆浆机 免过滤 Filter-free Soy Milk Maker & Blender",
        short_en="Soy Milk Maker",
        description="破壁细腻免过滤,一键清洗。 Smooth milk with no filtering, one-touch cleaning.",
        specs=(
            ("功率 Power", "800 W"),
            ("容量 Capacity", "1.2 L"),
            ("产地 Origin", "浙江慈溪 Cixi"),
        ),
        price_fen=39900,
        list_price_fen=49900,
        axes=(colours("WHT", "GRN"),),
        pending_review=True,
    ),
)

BEAUTY_CORNER: tuple[ProductTemplate, ...] = (
    ProductTemplate(
        code="BC01",
        slug="hyaluronic-serum",
        category_slug="skincare",
        shape="dropper",
        title="玻尿酸补水精华液 Hyaluronic Acid Hydrating Serum",
        short_en="HA Serum",
        description="三重分子玻尿酸,补水不黏腻。 Three weights of hyaluronic acid for hydration "
        "without stickiness.",
        specs=(("净含量 Volume", "30 ml"), ("肤质 Skin type", "所有肤质 All"), ORIGIN_SHANGHAI),
        price_fen=15900,
        list_price_fen=21900,
        axes=(options("容量 Volume", ("30ml", "30", 0), ("50ml", "50", 7000)),),
        tint="#a9d6e5",
    ),
    ProductTemplate(
        code="BC02",
        slug="cleanser",
        category_slug="skincare",
        shape="tube",
        title="氨基酸温和洁面乳 Amino Acid Gentle Cleanser",
        short_en="Amino Cleanser",
        description="弱酸性配方,洗后不紧绷。 Mildly acidic formula; skin never feels tight.",
        specs=(("净含量 Volume", "120 g"), ("pH", "5.5"), ORIGIN_GUANGZHOU),
        price_fen=6900,
        axes=(options("套装 Bundle", ("单支 Single", "1X", 0), ("两支装 Twin pack", "2X", 5900)),),
        tint="#bde0c4",
    ),
    ProductTemplate(
        code="BC03",
        slug="sunscreen",
        category_slug="skincare",
        shape="tube",
        title="清爽防晒乳 SPF50+ PA++++ Light Sunscreen SPF50+",
        short_en="Sunscreen SPF50",
        description="水感质地不泛白,户外通勤都适用。 Watery texture with no white cast, for "
        "commutes and the outdoors.",
        specs=(("防晒指数 SPF", "50+ PA++++"), ("净含量 Volume", "50 ml"), ORIGIN_SHANGHAI),
        price_fen=9900,
        list_price_fen=13900,
        axes=(options("容量 Volume", ("50ml", "50", 0), ("100ml", "100", 6000)),),
        tint="#f7d774",
    ),
    ProductTemplate(
        code="BC04",
        slug="face-cream",
        category_slug="skincare",
        shape="jar",
        title="神经酰胺修护面霜 Ceramide Repair Face Cream",
        short_en="Ceramide Cream",
        description="修护屏障,敏感肌可用,无香精。 Repairs the skin barrier; fragrance-free, "
        "fine for sensitive skin.",
        specs=(("净含量 Volume", "50 g"), ("肤质 Skin type", "敏感肌 Sensitive"), ORIGIN_SHANGHAI),
        price_fen=18900,
        axes=(options("容量 Volume", ("50g", "50", 0), ("80g", "80", 6000)),),
        tint="#f3ead8",
    ),
    ProductTemplate(
        code="BC05",
        slug="sheet-masks",
        category_slug="skincare",
        shape="mask",
        title="积雪草舒缓面膜 10片 Centella Soothing Sheet Masks ×10",
        short_en="Sheet Masks",
        description="积雪草提取物,晒后舒缓。 Centella extract to calm skin after sun.",
        specs=(("规格 Pack", "10片 10 sheets"), ORIGIN_GUANGZHOU),
        price_fen=7900,
        list_price_fen=9900,
        axes=(
            options("套装 Bundle", ("10片 10 sheets", "10", 0), ("30片 30 sheets", "30", 12000)),
        ),
        tint="#9ed9c0",
        sold_out=True,
    ),
    ProductTemplate(
        code="BC06",
        slug="matte-lipstick",
        category_slug="makeup",
        shape="lipstick",
        title="丝绒哑光口红 持久不沾杯 Velvet Matte Lipstick, Long-wear",
        short_en="Velvet Lipstick",
        description="丝绒质地,显色持久,不拔干。 Velvet texture with rich, lasting colour that "
        "does not dry lips.",
        specs=(("净含量 Weight", "3.5 g"), ORIGIN_SHANGHAI),
        price_fen=12900,
        axes=(
            options(
                "色号 Shade",
                ("#888 中国红 China Red", "888", 0),
                ("#520 豆沙色 Rose Nude", "520", 0),
                ("#999 正红 True Red", "999", 0),
                ("#316 枫叶棕 Maple Brown", "316", 0),
            ),
        ),
        tint="#c8102e",
    ),
    ProductTemplate(
        code="BC07",
        slug="cushion-foundation",
        category_slug="makeup",
        shape="compact",
        title="轻薄气垫粉底 遮瑕持妆 Light Cushion Foundation",
        short_en="Cushion Foundation",
        description="轻薄服帖,12小时持妆,附替换芯。 Sheer and smooth, 12-hour wear, refill "
        "included.",
        specs=(("净含量 Weight", "12 g ×2"), ("防晒 SPF", "SPF 35"), ORIGIN_SHANGHAI),
        price_fen=16900,
        list_price_fen=23900,
        axes=(SHADES,),
        tint="#e8c7a8",
    ),
    ProductTemplate(
        code="BC08",
        slug="eyeshadow-palette",
        category_slug="makeup",
        shape="palette",
        title="九宫格眼影盘 大地色 9-shade Earth-tone Eyeshadow Palette",
        short_en="Eyeshadow Palette",
        description="哑光与珠光搭配,新手也能画。 Mattes and shimmers that beginners can blend.",
        specs=(("净含量 Weight", "9 × 1.2 g"), ORIGIN_GUANGZHOU),
        price_fen=8900,
        axes=(
            options(
                "色系 Palette",
                ("大地色 Earth", "EAR", 0),
                ("蜜桃色 Peach", "PCH", 0),
                ("烟熏色 Smoky", "SMK", 0),
            ),
        ),
        tint="#b98a6b",
    ),
    ProductTemplate(
        code="BC09",
        slug="eyebrow-pencil",
        category_slug="makeup",
        shape="pencil",
        title="极细防水眉笔 自然不晕染 Ultra-fine Waterproof Brow Pencil",
        short_en="Brow Pencil",
        description="1.5mm极细笔芯,一根根画出眉毛。 A 1.5 mm tip that draws hair-like strokes.",
        specs=(("笔芯 Tip", "1.5 mm"), ORIGIN_GUANGZHOU),
        price_fen=3900,
        axes=(colours("BLK", "BRN", "GRY"),),
    ),
    ProductTemplate(
        code="BC10",
        slug="eau-de-parfum",
        category_slug="fragrance",
        shape="perfume",
        title="东方茶香淡香精 Oriental Tea Eau de Parfum",
        short_en="Tea Eau de Parfum",
        description="白茶、桂花与雪松,温柔持香。 White tea, osmanthus and cedar; soft and lasting.",
        specs=(("香调 Notes", "白茶 White tea · 桂花 Osmanthus · 雪松 Cedar"), ORIGIN_SHANGHAI),
        price_fen=32900,
        list_price_fen=45900,
        axes=(
            options(
                "容量 Volume", ("30ml", "30", 0), ("50ml", "50", 12000), ("100ml", "100", 26000)
            ),
        ),
        tint="#e9d8a6",
    ),
    ProductTemplate(
        code="BC11",
        slug="scented-candle",
        category_slug="fragrance",
        shape="candle",
        title="大豆蜡香薰蜡烛 助眠 Soy Wax Scented Candle",
        short_en="Scented Candle",
        description="天然大豆蜡,燃烧40小时。 Natural soy wax, 40 hours of burn time.",
        specs=(("燃烧时长 Burn time", "40 h"), ("净含量 Weight", "200 g"), ORIGIN_GUANGZHOU),
        price_fen=8800,
        axes=(
            options(
                "香型 Scent",
                ("无花果 Fig", "FIG", 0),
                ("白茶 White Tea", "TEA", 0),
                ("檀木 Sandalwood", "SAN", 0),
                ("海盐 Sea Salt", "SEA", 0),
            ),
        ),
        tint="#d8c8ae",
    ),
)

HOME_PRODUCTS: tuple[ProductTemplate, ...] = (*GOOD_KITCHEN, *BEAUTY_CORNER)
