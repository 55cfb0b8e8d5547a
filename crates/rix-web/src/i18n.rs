//! The interface's languages: English and Russian (the region's working languages) and
//! Chinese. Owns every string the pages show, and how numbers and dates are written in each
//! language. Record content is never translated: it is shown as its author wrote it.

use rix_api::record::{KeyFactor, Kind, Timestamp};

/// An interface language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// English.
    En,
    /// Russian.
    Ru,
    /// Chinese (simplified).
    Zh,
}

impl Lang {
    /// Every language, in the order the switcher lists them.
    pub const ALL: [Lang; 3] = [Lang::En, Lang::Ru, Lang::Zh];

    /// The BCP 47 tag (the page's `lang`, the cookie's value, the `?lang=` parameter).
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ru => "ru",
            Lang::Zh => "zh",
        }
    }

    /// The language's name in itself.
    pub fn name(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::Ru => "Русский",
            Lang::Zh => "中文",
        }
    }

    /// The language a tag names (`ru`, `ru-RU`, `zh-Hans`...), if the interface speaks it.
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let primary = tag.trim().split(['-', '_']).next().unwrap_or("").to_ascii_lowercase();
        Lang::ALL.into_iter().find(|l| l.tag() == primary)
    }

    /// The first language of an `Accept-Language` header the interface speaks.
    pub fn from_accept_language(header: &str) -> Option<Lang> {
        // Quality values are ignored: browsers list languages in preference order anyway.
        header.split(',').find_map(|part| Lang::from_tag(part.split(';').next().unwrap_or("")))
    }

    /// The interface string `key` in this language. Every key has all three languages (a
    /// test checks every `t("...")` in the pages against the table); an unknown key shows as
    /// itself rather than failing a page.
    pub fn t(self, key: &'static str) -> &'static str {
        match TABLE.iter().find(|(k, ..)| *k == key) {
            Some((_, en, ru, zh)) => match self {
                Lang::En => en,
                Lang::Ru => ru,
                Lang::Zh => zh,
            },
            None => key,
        }
    }

    /// A key factor's name.
    pub fn factor(self, factor: KeyFactor) -> &'static str {
        let i = KeyFactor::ALL.iter().position(|f| *f == factor).unwrap_or(0);
        match self {
            Lang::En => factor.label(),
            Lang::Ru => FACTORS_RU[i],
            Lang::Zh => FACTORS_ZH[i],
        }
    }

    /// A kind's name.
    pub fn kind(self, kind: Kind) -> &'static str {
        let i = Kind::ALL.iter().position(|k| *k == kind).unwrap_or(0);
        match self {
            Lang::En => kind.label(),
            Lang::Ru => KINDS_RU[i],
            Lang::Zh => KINDS_ZH[i],
        }
    }

    /// A whole number with the language's digit grouping: 100,000 / 100 000 / 100,000.
    pub fn number(self, n: u64) -> String {
        let digits = n.to_string();
        let sep = match self {
            // Russian groups with a no-break space, and only from five digits (ГОСТ 8.417).
            Lang::Ru if digits.len() <= 4 => return digits,
            Lang::Ru => '\u{a0}',
            Lang::En | Lang::Zh => ',',
        };
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(sep);
            }
            out.push(c);
        }
        out
    }

    /// A date: 3 Dec 2026 / 3 дек. 2026 / 2026年12月3日.
    pub fn date(self, t: &Timestamp) -> String {
        let text = t.to_string();
        let (y, m, d) = (&text[0..4], text[5..7].parse::<usize>().unwrap_or(1), text[8..10].trim_start_matches('0'));
        let m = m.clamp(1, 12) - 1;
        match self {
            Lang::En => format!("{d} {} {y}", MONTHS_EN[m]),
            Lang::Ru => format!("{d} {} {y}", MONTHS_RU[m]),
            Lang::Zh => format!("{y}年{}月{d}日", m + 1),
        }
    }

    /// A date and time, UTC: 3 Dec 2026 14:05 UTC.
    pub fn date_time(self, t: &Timestamp) -> String {
        let text = t.to_string();
        format!("{} {} UTC", self.date(t), &text[11..16])
    }
}

const MONTHS_EN: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const MONTHS_RU: [&str; 12] =
    ["янв.", "февр.", "мар.", "апр.", "мая", "июн.", "июл.", "авг.", "сент.", "окт.", "нояб.", "дек."];

/// Key factor names, in `KeyFactor::ALL` order (the Revised Arusha Declaration's).
const FACTORS_RU: [&str; 10] = [
    "Руководство и приверженность",
    "Нормативная база",
    "Прозрачность",
    "Автоматизация",
    "Реформа и модернизация",
    "Аудит и расследования",
    "Кодекс поведения",
    "Управление кадрами",
    "Моральный климат и организационная культура",
    "Отношения с частным сектором",
];
const FACTORS_ZH: [&str; 10] = [
    "领导与承诺",
    "法规框架",
    "透明度",
    "自动化",
    "改革与现代化",
    "审计与调查",
    "行为守则",
    "人力资源管理",
    "士气与组织文化",
    "与私营部门的关系",
];
/// Kind names, in `Kind::ALL` order.
const KINDS_RU: [&str; 7] = [
    "Передовая практика",
    "Стратегия добросовестности",
    "Практический пример",
    "План действий",
    "Кодекс поведения",
    "Мероприятие",
    "Самооценка",
];
const KINDS_ZH: [&str; 7] = ["最佳实践", "廉政战略", "案例研究", "行动计划", "行为守则", "活动", "自我评估"];

/// `(key, English, Russian, Chinese)`.
const TABLE: &[(&str, &str, &str, &str)] = &[
    ("app", "Regional Integrity eXchange", "Региональный обмен по вопросам добросовестности", "区域廉政交流"),
    ("skip", "Skip to content", "Перейти к содержанию", "跳到正文"),
    ("nav.dashboard", "Dashboard", "Обзор", "概览"),
    ("nav.records", "Records", "Записи", "记录"),
    ("nav.stats", "Statistics", "Статистика", "统计"),
    ("nav.network", "Network", "Сеть", "网络"),
    ("nav.main", "Main", "Основное меню", "主菜单"),
    ("language", "Language", "Язык", "语言"),
    ("apply", "Apply", "Применить", "应用"),
    ("login.title", "Sign in", "Вход", "登录"),
    (
        "login.text",
        "This page shows a node's replica and needs a session. On the node's machine, run the command below: it prints a link that signs you in once.",
        "Эта страница показывает реплику узла, и для неё нужен сеанс. На машине узла выполните команду ниже: она выведет ссылку для однократного входа.",
        "此页面显示节点的副本，需要登录会话。请在节点所在的计算机上运行下面的命令：它会打印一个一次性登录链接。",
    ),
    ("login.token", "Or paste the login token", "Или вставьте токен входа", "或粘贴登录令牌"),
    ("login.submit", "Sign in", "Войти", "登录"),
    (
        "login.expired",
        "That login link was already used or has expired. Run the command again for a new one.",
        "Эта ссылка уже использована или устарела. Выполните команду ещё раз, чтобы получить новую.",
        "该登录链接已被使用或已过期。请再次运行命令以获取新链接。",
    ),
    ("dash.records", "Records held", "Записей в реплике", "持有记录"),
    ("dash.publications", "Current publications", "Действующих публикаций", "现行出版物"),
    ("dash.peers", "Connected peers", "Подключённых узлов", "已连接节点"),
    ("dash.charter", "Charter version", "Версия устава", "章程版本"),
    ("dash.members", "Members", "Участники", "成员"),
    ("dash.newest", "Newest records", "Новые записи", "最新记录"),
    ("dash.all", "All records", "Все записи", "全部记录"),
    (
        "sync.title",
        "Per member: what this node holds",
        "По участникам: что хранит этот узел",
        "各成员：本节点持有的内容",
    ),
    ("sync.member", "Member", "Участник", "成员"),
    ("sync.held", "Records held", "Записей", "持有记录"),
    ("sync.highest", "Highest sequence", "Наибольший номер", "最高序号"),
    ("sync.missing", "Missing (lag)", "Не хватает (отставание)", "缺失（滞后）"),
    ("sync.last", "Last sync with its node", "Последняя синхронизация с его узлом", "与其节点最近同步"),
    ("sync.connected", "Connected", "Подключён", "已连接"),
    ("sync.never", "not since start", "не было с запуска", "自启动以来无"),
    ("sync.offline", "not connected", "не подключён", "未连接"),
    ("sync.uptodate", "up to date", "актуально", "最新"),
    ("rec.title", "Title", "Название", "标题"),
    ("rec.member", "Member", "Участник", "成员"),
    ("rec.kind", "Kind", "Вид", "类型"),
    ("rec.factors", "Key factors", "Ключевые факторы", "关键因素"),
    ("rec.factor", "Key factor", "Ключевой фактор", "关键因素"),
    ("rec.language", "Language", "Язык", "语言"),
    ("rec.date", "Date", "Дата", "日期"),
    ("rec.since", "Since", "С даты", "起始日期"),
    ("rec.search", "Search", "Поиск", "搜索"),
    (
        "rec.search.hint",
        "Words, \"phrases\", prefix*; any language",
        "Слова, «фразы», префикс*; любой язык",
        "词语、\"短语\"、前缀*；任何语言",
    ),
    ("rec.any", "Any", "Любой", "任意"),
    ("rec.filter", "Filter", "Фильтр", "筛选"),
    ("rec.reset", "Clear", "Сбросить", "清除"),
    ("rec.withdrawn", "withdrawn", "отозвана", "已撤回"),
    ("rec.superseded", "superseded", "заменена", "已被取代"),
    ("rec.include_withdrawn", "Include withdrawn", "Включая отозванные", "包括已撤回"),
    ("rec.all_versions", "All versions", "Все версии", "所有版本"),
    ("rec.found", "records", "записей", "条记录"),
    ("rec.matches", "matches", "совпадений", "条匹配"),
    ("rec.none", "No records match.", "Нет подходящих записей.", "没有匹配的记录。"),
    ("rec.compare", "Compare selected", "Сравнить выбранные", "比较所选"),
    ("rec.select", "Select for comparison", "Выбрать для сравнения", "选择以比较"),
    ("rec.prev", "Previous", "Назад", "上一页"),
    ("rec.next", "Next", "Далее", "下一页"),
    ("rec.page", "Page", "Страница", "第"),
    (
        "rec.deepest",
        "This is the last page offered: narrow the selection (a filter, a date, a search) to see older records, or download the selection.",
        "Это последняя доступная страница: уточните выборку (фильтр, дата, поиск), чтобы увидеть более старые записи, или скачайте выборку.",
        "这是可显示的最后一页：请缩小选择范围（筛选、日期、搜索）以查看更早的记录，或下载所选内容。",
    ),
    ("rec.download", "Download this selection", "Скачать выборку", "下载所选内容"),
    ("rec.results", "Results", "Результаты", "结果"),
    ("rec.summary", "Summary", "Краткое содержание", "摘要"),
    ("rec.details", "Details", "Подробности", "详情"),
    ("rec.body", "Text", "Текст", "正文"),
    ("rec.author", "Author", "Автор", "作者"),
    ("rec.seq", "Sequence number", "Порядковый номер", "序号"),
    ("rec.created", "Signed", "Подписана", "签署时间"),
    ("rec.signature", "Signature", "Подпись", "签名"),
    (
        "rec.verified",
        "verified with the key the author held at this sequence number (nothing unverified enters a replica)",
        "проверена ключом, который автор имел при этом номере (в реплику не попадает ничего непроверенного)",
        "已用作者在此序号时持有的密钥验证（未经验证的内容不会进入副本）",
    ),
    ("rec.versions", "Versions", "Версии", "版本"),
    ("rec.current", "current", "действующая", "现行"),
    ("rec.withdrawal", "Withdrawn by its author", "Отозвана автором", "已被作者撤回"),
    ("rec.reason", "Reason", "Причина", "原因"),
    ("rec.related", "Related records", "Связанные записи", "相关记录"),
    (
        "rec.others",
        "Other members on the same key factors",
        "Другие участники по тем же ключевым факторам",
        "其他成员在相同关键因素上的记录",
    ),
    ("rec.approaches", "Approaches", "Подходы", "方法"),
    ("rec.stages", "Cycle stages", "Этапы цикла", "周期阶段"),
    ("rec.themes", "Themes", "Темы", "主题"),
    ("rec.tags", "Tags", "Метки", "标签"),
    ("rec.period", "Period", "Период", "期间"),
    ("rec.contact", "Contact unit", "Контактное подразделение", "联系单位"),
    ("rec.id", "Record id", "Идентификатор", "记录编号"),
    ("rec.notfound", "No such record", "Такой записи нет", "没有该记录"),
    ("cmp.title", "Comparison", "Сравнение", "比较"),
    (
        "cmp.need",
        "Select two or more records in the list to compare them side by side.",
        "Выберите в списке две или больше записей, чтобы сравнить их рядом.",
        "请在列表中选择两条或更多记录进行并排比较。",
    ),
    (
        "stats.coverage",
        "Coverage: members × key factors",
        "Охват: участники × ключевые факторы",
        "覆盖情况：成员 × 关键因素",
    ),
    (
        "stats.coverage.text",
        "Current publications per member and key factor. Empty cells are gaps: no publication yet.",
        "Действующие публикации по участникам и ключевым факторам. Пустые клетки — пробелы: публикаций пока нет.",
        "各成员在各关键因素上的现行出版物数量。空格为空白：尚无出版物。",
    ),
    ("stats.gap", "gap", "пробел", "空白"),
    ("stats.over_time", "Publications per member over time", "Публикации участников по годам", "各成员历年出版物"),
    ("stats.by_kind", "Publications by kind", "Публикации по видам", "按类型统计出版物"),
    ("stats.year", "Year", "Год", "年份"),
    ("stats.count", "Count", "Количество", "数量"),
    ("stats.asof", "Computed at", "Рассчитано", "计算时间"),
    ("stats.table", "The same figures as a table", "Те же данные в таблице", "以表格显示相同数据"),
    ("net.charter", "Charter", "Устав", "章程"),
    ("net.version", "Version", "Версия", "版本"),
    ("net.hash", "Hash", "Хеш", "哈希"),
    ("net.genesis", "Genesis", "Исходная версия", "创世版本"),
    ("net.threshold", "Approvals needed for an amendment", "Одобрений для поправки", "修正案所需批准数"),
    ("net.pending", "Open proposals", "Открытые предложения", "待决提案"),
    ("net.name", "Name", "Название", "名称"),
    ("net.key", "Signing key", "Ключ подписи", "签名密钥"),
    ("net.peer", "Node peer id", "Идентификатор узла", "节点标识"),
    ("net.addresses", "Addresses", "Адреса", "地址"),
    ("net.joined", "Since version", "С версии", "自版本"),
    ("net.observers", "Observers", "Наблюдатели", "观察员"),
    ("net.peers", "Connected peers", "Подключённые узлы", "已连接节点"),
    ("net.role", "Who", "Кто", "身份"),
    ("net.address", "Address", "Адрес", "地址"),
    ("net.gossip", "Gossip", "Рассылка", "广播"),
    ("net.mesh", "in mesh", "в сетке", "在网格中"),
    ("net.subscribed", "subscribed", "подписан", "已订阅"),
    ("net.score", "Score", "Оценка", "评分"),
    ("net.fetched", "Records fetched", "Получено записей", "已获取记录"),
    ("net.this", "This node", "Этот узел", "本节点"),
    ("net.network", "Network", "Сеть", "网络"),
    ("net.none", "No peer is connected.", "Нет подключённых узлов.", "没有已连接的节点。"),
    ("net.log", "Charter versions", "Версии устава", "章程版本"),
    ("net.changes", "Changes", "Изменения", "变更"),
    ("net.approved", "Approved by", "Одобрили", "批准者"),
    ("net.effective", "In effect since", "Действует с", "生效时间"),
    ("net.observer_node", "observer node", "узел-наблюдатель", "观察员节点"),
    ("dl.title", "Download", "Скачать", "下载"),
    ("dl.csv", "CSV (spreadsheet)", "CSV (таблица)", "CSV（电子表格）"),
    ("dl.md", "Markdown report", "Отчёт Markdown", "Markdown 报告"),
    ("dl.html", "HTML report", "Отчёт HTML", "HTML 报告"),
    ("dl.json", "JSON", "JSON", "JSON"),
    ("dl.jsonl", "JSON lines", "JSON lines", "JSON 行"),
    ("err.title", "Something is wrong with this request", "Ошибка в запросе", "请求有误"),
    ("err.back", "Back to the records", "К записям", "返回记录"),
    (
        "footer",
        "Read-only view of this node's replica",
        "Просмотр реплики этого узла, только чтение",
        "本节点副本的只读视图",
    ),
    ("signout", "Sign out", "Выйти", "退出"),
];

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `t("key")` in the pages is in the table, in all three languages, and no key is
    /// there twice.
    #[test]
    fn every_key_the_pages_use_has_three_languages() {
        let sources = [
            include_str!("pages/layout.rs"),
            include_str!("pages/dashboard.rs"),
            include_str!("pages/records.rs"),
            include_str!("pages/record.rs"),
            include_str!("pages/stats.rs"),
            include_str!("pages/network.rs"),
            include_str!("pages/login.rs"),
            include_str!("guard.rs"),
        ];
        let mut used = 0;
        for source in sources {
            for part in source.split(".t(\"").skip(1) {
                let key = &part[..part.find('"').expect("a closing quote")];
                assert!(TABLE.iter().any(|(k, ..)| *k == key), "key {key:?} is not in the table");
                used += 1;
            }
        }
        assert!(used > 50, "found only {used} uses");
        for (i, (key, en, ru, zh)) in TABLE.iter().enumerate() {
            assert!(!en.is_empty() && !ru.is_empty() && !zh.is_empty(), "{key}");
            assert!(TABLE[i + 1..].iter().all(|(k, ..)| k != key), "{key} twice");
        }
    }

    #[test]
    fn numbers_and_dates_follow_the_language() {
        assert_eq!(Lang::En.number(100_000), "100,000");
        assert_eq!(Lang::Ru.number(100_000), "100\u{a0}000");
        assert_eq!(Lang::Ru.number(1234), "1234");
        assert_eq!(Lang::Zh.number(999), "999");
        let t: Timestamp = "2026-12-03T14:05:09Z".parse().unwrap();
        assert_eq!(Lang::En.date(&t), "3 Dec 2026");
        assert_eq!(Lang::Ru.date(&t), "3 дек. 2026");
        assert_eq!(Lang::Zh.date(&t), "2026年12月3日");
        assert_eq!(Lang::En.date_time(&t), "3 Dec 2026 14:05 UTC");
        assert_eq!(Lang::from_accept_language("de-DE,ru;q=0.8,en;q=0.5"), Some(Lang::Ru));
        assert_eq!(Lang::from_tag("zh-Hans"), Some(Lang::Zh));
        assert_eq!(Lang::from_tag("fr"), None);
    }
}
