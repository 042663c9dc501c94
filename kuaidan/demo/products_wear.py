"""Demo listings of the apparel shop (TA) and the children's shop (LO)."""

from __future__ import annotations

from kuaidan.demo.spec import ProductTemplate, colours, options, sizes

ADULT = sizes("S", "M", "L", "XL")
ADULT_XXL = sizes("S", "M", "L", "XL", "XXL")
KIDS = sizes("90", "100", "110", "120", "130", name="身高 Height (cm)")
BABY = sizes("59", "66", "73", "80", name="身高 Height (cm)")
ORIGIN_FOSHAN = ("产地 Origin", "广东佛山 Foshan, Guangdong")
ORIGIN_HANGZHOU = ("产地 Origin", "浙江杭州 Hangzhou, Zhejiang")
ORIGIN_ZHILI = ("产地 Origin", "浙江湖州织里 Zhili, Huzhou")

TRENDY_APPAREL: tuple[ProductTemplate, ...] = (
    ProductTemplate(
        code="TA01",
        slug="cotton-crew-tee",
        category_slug="tshirts",
        shape="tshirt",
        title="纯棉宽松圆领短袖T恤 男女同款 Cotton Relaxed Crew-neck Tee Unisex",
        short_en="Crew-neck Tee",
        description="260g重磅精梳棉,落肩宽松版型,洗后不易变形。 Heavyweight 260 gsm combed "
        "cotton with a relaxed dropped-shoulder fit that keeps its shape wash after wash.",
        specs=(("材质 Material", "100%棉 Cotton"), ORIGIN_FOSHAN, ("克重 Weight", "260 g/m²")),
        price_fen=7900,
        list_price_fen=12900,
        axes=(colours("BLK", "WHT", "OAT", "NAV"), ADULT),
    ),
    ProductTemplate(
        code="TA02",
        slug="graphic-tee",
        category_slug="tshirts",
        shape="tshirt",
        title="国潮印花短袖T恤 青年潮牌 Guochao Graphic Print Tee",
        short_en="Graphic Tee",
        description="水墨山水印花,环保水性油墨,柔软不闷。 Ink-wash landscape print in "
        "water-based inks; soft and breathable.",
        specs=(("材质 Material", "95%棉 Cotton 5%氨纶 Spandex"), ORIGIN_HANGZHOU),
        price_fen=8900,
        axes=(colours("WHT", "BLK", "RED"), ADULT),
    ),
    ProductTemplate(
        code="TA03",
        slug="waffle-long-sleeve",
        category_slug="tshirts",
        shape="tshirt",
        title="华夫格长袖打底衫 秋季内搭 Waffle-knit Long-sleeve Top",
        short_en="Waffle Top",
        description="立体华夫格纹理,保暖透气,单穿内搭皆可。 Textured waffle knit that is warm "
        "yet breathable; wear it alone or layered.",
        specs=(("材质 Material", "80%棉 Cotton 20%聚酯纤维 Polyester"), ORIGIN_FOSHAN),
        price_fen=6900,
        list_price_fen=9900,
        axes=(colours("CRM", "CHR", "BRN"), ADULT),
    ),
    ProductTemplate(
        code="TA04",
        slug="floral-midi-dress",
        category_slug="dresses",
        shape="dress",
        title="法式碎花收腰中长款连衣裙 French Floral Midi Wrap Dress",
        short_en="Floral Midi Dress",
        description="V领收腰设计,雪纺面料轻盈垂坠,配内衬不透。 V-neck wrap waist in light, "
        "flowing chiffon, fully lined.",
        specs=(
            ("材质 Material", "雪纺 Chiffon"),
            ("里料 Lining", "聚酯纤维 Polyester"),
            ORIGIN_HANGZHOU,
        ),
        price_fen=23900,
        list_price_fen=35900,
        axes=(colours("BLU", "PNK", "YEL"), sizes("S", "M", "L")),
    ),
    ProductTemplate(
        code="TA05",
        slug="knit-sweater-dress",
        category_slug="dresses",
        shape="dress",
        title="慵懒风针织毛衣裙 高领过膝 Turtleneck Knit Sweater Dress",
        short_en="Sweater Dress",
        description="含羊毛混纺,亲肤不扎,秋冬单穿或叠穿大衣。 Wool-blend knit that does not "
        "itch; wear alone or under a coat.",
        specs=(("材质 Material", "30%羊毛 Wool 70%腈纶 Acrylic"), ORIGIN_ZHILI),
        price_fen=19900,
        axes=(colours("OAT", "BUR", "CHR"), sizes("S", "M", "L")),
    ),
    ProductTemplate(
        code="TA06",
        slug="denim-jacket",
        category_slug="jackets",
        shape="jacket",
        title="复古水洗牛仔夹克 宽松工装外套 Vintage Washed Denim Jacket",
        short_en="Denim Jacket",
        description="12盎司牛仔布,复古石磨水洗,四季可穿。 12 oz denim with a vintage stone "
        "wash; a jacket for every season.",
        specs=(("材质 Material", "100%棉 Cotton denim"), ("产地 Origin", "广东新塘 Xintang")),
        price_fen=29900,
        list_price_fen=45900,
        axes=(colours("BLU", "BLK"), ADULT_XXL),
    ),
    ProductTemplate(
        code="TA07",
        slug="down-puffer",
        category_slug="jackets",
        shape="jacket",
        title="90白鸭绒短款羽绒服 面包服 90% Duck Down Short Puffer Jacket",
        short_en="Down Puffer",
        description="充绒量180g,蓬松度650+,防钻绒面料。 180 g fill of 650+ loft down in a "
        "down-proof shell.",
        specs=(
            ("填充物 Fill", "90%白鸭绒 White duck down"),
            ("充绒量 Fill weight", "180 g"),
            ORIGIN_HANGZHOU,
        ),
        price_fen=59900,
        list_price_fen=89900,
        axes=(colours("BLK", "CRM", "OLV"), ADULT),
    ),
    ProductTemplate(
        code="TA08",
        slug="fleece-hoodie",
        category_slug="hoodies",
        shape="hoodie",
        title="加绒连帽卫衣 情侣款 Fleece-lined Pullover Hoodie",
        short_en="Fleece Hoodie",
        description="内里加绒,袋鼠兜设计,帽绳可调节。 Brushed fleece inside, kangaroo pocket "
        "and an adjustable drawcord hood.",
        specs=(
            ("材质 Material", "棉 Cotton 聚酯纤维 Polyester"),
            ("克重 Weight", "420 g/m²"),
            ORIGIN_FOSHAN,
        ),
        price_fen=16900,
        list_price_fen=25900,
        axes=(colours("GRY", "BLK", "GRN", "PUR"), ADULT_XXL),
    ),
    ProductTemplate(
        code="TA09",
        slug="zip-hoodie",
        category_slug="hoodies",
        shape="hoodie",
        title="美式复古拉链开衫卫衣 American Vintage Zip-up Hoodie",
        short_en="Zip Hoodie",
        description="金属拉链,罗纹袖口,做旧水洗质感。 Metal zip, ribbed cuffs and a "
        "washed, worn-in feel.",
        specs=(("材质 Material", "100%棉 Cotton"), ORIGIN_FOSHAN),
        price_fen=18900,
        axes=(colours("CHR", "KHA"), ADULT),
        sold_out=True,
    ),
    ProductTemplate(
        code="TA10",
        slug="wide-leg-jeans",
        category_slug="trousers",
        shape="trousers",
        title="高腰阔腿牛仔裤 显瘦垂感 High-rise Wide-leg Jeans",
        short_en="Wide-leg Jeans",
        description="高腰设计拉长腿部比例,微弹面料久坐不勒。 High rise that lengthens the leg, "
        "in a slightly stretchy denim that stays comfortable seated.",
        specs=(
            ("材质 Material", "98%棉 Cotton 2%氨纶 Spandex"),
            ("产地 Origin", "广东新塘 Xintang"),
        ),
        price_fen=15900,
        list_price_fen=22900,
        axes=(colours("BLU", "BLK", "WHT"), sizes("25", "26", "27", "28", "29", name="腰围 Waist")),
    ),
    ProductTemplate(
        code="TA11",
        slug="cargo-pants",
        category_slug="trousers",
        shape="trousers",
        title="多口袋工装裤 束脚休闲裤 Multi-pocket Cargo Joggers",
        short_en="Cargo Joggers",
        description="立体大口袋,松紧腰头,束脚设计利落。 Roomy cargo pockets, an elastic "
        "waist and cuffed ankles.",
        specs=(("材质 Material", "65%棉 Cotton 35%锦纶 Nylon"), ORIGIN_FOSHAN),
        price_fen=13900,
        axes=(colours("OLV", "KHA", "BLK"), ADULT),
        pending_review=True,
    ),
)

LITTLE_ONES: tuple[ProductTemplate, ...] = (
    ProductTemplate(
        code="LO01",
        slug="kids-cotton-tee",
        category_slug="kids-clothing",
        shape="tshirt",
        title="儿童纯棉卡通短袖T恤 A类 Kids' Cotton Cartoon Tee (Class A)",
        short_en="Kids Tee",
        description="A类婴幼儿标准,无荧光剂,卡通小熊印花。 Class-A infant standard, no "
        "optical brighteners, with a little bear print.",
        specs=(
            ("材质 Material", "100%棉 Cotton"),
            ("安全等级 Safety", "A类 Class A"),
            ORIGIN_ZHILI,
        ),
        price_fen=3900,
        list_price_fen=5900,
        axes=(colours("YEL", "SKY", "PNK"), KIDS),
    ),
    ProductTemplate(
        code="LO02",
        slug="girls-tutu-dress",
        category_slug="kids-clothing",
        shape="dress",
        title="女童网纱公主裙 生日礼服 Girls' Tulle Tutu Party Dress",
        short_en="Tutu Dress",
        description="三层柔软网纱,纯棉内衬不扎肤。 Three layers of soft tulle over a cotton "
        "lining that never scratches.",
        specs=(("材质 Material", "网纱 Tulle 棉里 Cotton lining"), ORIGIN_ZHILI),
        price_fen=12900,
        list_price_fen=16900,
        axes=(colours("PNK", "WHT", "PUR"), KIDS),
    ),
    ProductTemplate(
        code="LO03",
        slug="kids-puffer",
        category_slug="kids-clothing",
        shape="jacket",
        title="儿童轻薄羽绒服 可收纳 Kids' Packable Light Down Jacket",
        short_en="Kids Puffer",
        description="轻至200克,可收纳进随附小袋。 Weighs only 200 g and packs into its own pouch.",
        specs=(("填充物 Fill", "90%白鸭绒 White duck down"), ORIGIN_ZHILI),
        price_fen=19900,
        list_price_fen=29900,
        axes=(colours("RED", "NAV", "YEL"), KIDS),
    ),
    ProductTemplate(
        code="LO04",
        slug="kids-hoodie",
        category_slug="kids-clothing",
        shape="hoodie",
        title="儿童恐龙连帽卫衣 Kids' Dinosaur Hoodie",
        short_en="Dino Hoodie",
        description="帽子上有立体恐龙背鳍,孩子最爱。 "
        "A hood with a 3D dinosaur crest the kids love.",
        specs=(("材质 Material", "95%棉 Cotton 5%氨纶 Spandex"), ORIGIN_ZHILI),
        price_fen=8900,
        axes=(colours("GRN", "GRY", "ORG"), KIDS),
    ),
    ProductTemplate(
        code="LO05",
        slug="kids-joggers",
        category_slug="kids-clothing",
        shape="trousers",
        title="儿童防蚊裤 夏季薄款 Kids' Lightweight Summer Joggers",
        short_en="Kids Joggers",
        description="冰丝面料速干凉爽,束脚防蚊。 Quick-dry cool-touch fabric with cuffed ankles "
        "against mosquitoes.",
        specs=(("材质 Material", "莫代尔 Modal"), ORIGIN_ZHILI),
        price_fen=4900,
        axes=(colours("NAV", "KHA", "PNK"), KIDS),
    ),
    ProductTemplate(
        code="LO06",
        slug="baby-romper",
        category_slug="kids-clothing",
        shape="romper",
        title="婴儿连体衣 纯棉哈衣 新生儿 Newborn Cotton Romper",
        short_en="Baby Romper",
        description="前开扣设计换尿布方便,无骨缝制。 Front snaps for easy changes, seamless "
        "stitching.",
        specs=(
            ("材质 Material", "100%棉 Cotton"),
            ("安全等级 Safety", "A类 Class A"),
            ORIGIN_ZHILI,
        ),
        price_fen=5900,
        list_price_fen=7900,
        axes=(colours("CRM", "GRN", "SKY"), BABY),
    ),
    ProductTemplate(
        code="LO07",
        slug="baby-wipes",
        category_slug="baby-care",
        shape="wipes",
        title="婴儿手口湿巾 80抽×6包 Baby Hand & Mouth Wipes 80 × 6",
        short_en="Baby Wipes",
        description="99.9%纯水配方,无酒精无香精。 99.9% water, no alcohol, no fragrance.",
        specs=(
            ("规格 Pack", "80抽/包 80 wipes per pack"),
            ("产地 Origin", "福建晋江 Jinjiang, Fujian"),
        ),
        price_fen=3990,
        list_price_fen=5990,
        axes=(options("套装 Bundle", ("6包 6 packs", "6P", 0), ("12包 12 packs", "12P", 3500)),),
        tint="#bfe3f2",
    ),
    ProductTemplate(
        code="LO08",
        slug="baby-lotion",
        category_slug="baby-care",
        shape="bottle",
        title="婴儿润肤乳 燕麦保湿 Baby Oat Moisturising Lotion",
        short_en="Baby Lotion",
        description="燕麦精华温和保湿,适合0岁以上宝宝。 Gentle oat moisture, suitable from birth.",
        specs=(
            ("净含量 Volume", "200 ml"),
            ("适用 For", "0岁+ From birth"),
            ("产地 Origin", "上海 Shanghai"),
        ),
        price_fen=6800,
        axes=(options("容量 Volume", ("200ml", "200", 0), ("400ml", "400", 4200)),),
        tint="#f6e6c8",
    ),
    ProductTemplate(
        code="LO09",
        slug="silicone-bowl-set",
        category_slug="baby-care",
        shape="bowl",
        title="宝宝硅胶吸盘碗辅食套装 Baby Silicone Suction Bowl Set",
        short_en="Suction Bowl",
        description="食品级硅胶,吸盘防打翻,可进微波炉。 Food-grade silicone with a suction base; "
        "microwave safe.",
        specs=(
            ("材质 Material", "食品级硅胶 Food-grade silicone"),
            ("产地 Origin", "广东东莞 Dongguan"),
        ),
        price_fen=4500,
        axes=(colours("GRN", "PNK", "SKY", "YEL"),),
    ),
    ProductTemplate(
        code="LO10",
        slug="wooden-blocks",
        category_slug="toys",
        shape="blocks",
        title="榉木积木 100粒 早教玩具 Beech Wood Building Blocks 100 pcs",
        short_en="Wood Blocks",
        description="榉木原木打磨,水性漆,圆角不伤手。 Sanded solid beech with water-based paint "
        "and rounded corners.",
        specs=(
            ("材质 Material", "榉木 Beech"),
            ("适用年龄 Age", "1岁+ 1 year+"),
            ("产地 Origin", "浙江云和 Yunhe"),
        ),
        price_fen=8900,
        list_price_fen=12900,
        axes=(options("套装 Bundle", ("100粒 100 pcs", "100", 0), ("200粒 200 pcs", "200", 6000)),),
        tint="#e9c98f",
    ),
    ProductTemplate(
        code="LO11",
        slug="plush-bear",
        category_slug="toys",
        shape="bear",
        title="安抚毛绒小熊 宝宝睡觉玩偶 Soothing Plush Teddy Bear",
        short_en="Plush Bear",
        description="可机洗,PP棉填充,陪伴宝宝入睡。 Machine washable with soft PP fill, a "
        "bedtime friend.",
        specs=(("材质 Material", "短毛绒 Short plush"), ("尺寸 Size", "30 cm")),
        price_fen=5900,
        axes=(
            colours("BRN", "CRM", "PNK"),
            options("尺寸 Size", ("30cm", "30", 0), ("45cm", "45", 3000)),
        ),
    ),
)

WEAR_PRODUCTS: tuple[ProductTemplate, ...] = (*TRENDY_APPAREL, *LITTLE_ONES)
