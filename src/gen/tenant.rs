//! The synthetic tenant: environments, owners, their connections and their flows, built once
//! from the seed before the first run is written. Its size follows the expected record
//! count but is capped, so memory stays constant however large the file.
//!
//! A share of connections is *broken* from some moment on, each by one sign-in failure
//! kind; every run that fails with that kind belongs to a flow whose first connection is
//! broken that way and starts after the break. So a run's failure, its flow's connection
//! and that connection's inventory status always tell the same story, and failures cluster
//! the way they do in a real tenant (one broken connection fails every run of its flows).

use super::rng::Rng;
use super::text::{self, DAY, TICKS};

/// A connector the tenant uses, with what its failures look like.
#[derive(Debug)]
pub struct Connector {
    /// `shared_office365`.
    pub api: &'static str,
    /// Token-service name in "Failed to refresh access token for service: `<service>`".
    pub service: &'static str,
    pub display: &'static str,
    /// The resource the access token is for (named in the AADSTS50076 text).
    pub resource: &'static str,
    /// The action that fails when the connection cannot get a token.
    pub action: &'static str,
    /// How often owners have a connection to it (relative).
    pub weight: u32,
}

const EXCHANGE: &str = "00000002-0000-0ff1-ce00-000000000000";
const SHAREPOINT: &str = "00000003-0000-0ff1-ce00-000000000000";
const GRAPH: &str = "00000003-0000-0000-c000-000000000000";
const DATAVERSE: &str = "00000007-0000-0000-c000-000000000000";

pub static CONNECTORS: &[Connector] = &[
    Connector {
        api: "shared_office365",
        service: "office365",
        display: "Office 365 Outlook",
        resource: EXCHANGE,
        action: "Send_an_email_(V2)",
        weight: 30,
    },
    Connector {
        api: "shared_sharepointonline",
        service: "sharepointonline",
        display: "SharePoint",
        resource: SHAREPOINT,
        action: "Create_item",
        weight: 25,
    },
    Connector {
        api: "shared_teams",
        service: "teams",
        display: "Microsoft Teams",
        resource: GRAPH,
        action: "Post_message_in_a_chat_or_channel",
        weight: 15,
    },
    Connector {
        api: "shared_excelonlinebusiness",
        service: "excelonlinebusiness",
        display: "Excel Online (Business)",
        resource: GRAPH,
        action: "List_rows_present_in_a_table",
        weight: 10,
    },
    Connector {
        api: "shared_onedriveforbusiness",
        service: "onedriveforbusiness",
        display: "OneDrive for Business",
        resource: SHAREPOINT,
        action: "Create_file",
        weight: 8,
    },
    Connector {
        api: "shared_commondataserviceforapps",
        service: "commondataserviceforapps",
        display: "Microsoft Dataverse",
        resource: DATAVERSE,
        action: "Add_a_new_row",
        weight: 6,
    },
    Connector {
        api: "shared_office365users",
        service: "office365users",
        display: "Office 365 Users",
        resource: GRAPH,
        action: "Get_user_profile_(V2)",
        weight: 4,
    },
    Connector {
        api: "shared_planner",
        service: "planner",
        display: "Planner",
        resource: GRAPH,
        action: "Create_a_task",
        weight: 2,
    },
];

/// A trigger: its internal name and the Dataverse `triggertype`.
pub static TRIGGERS: &[(&str, &str)] = &[
    ("Recurrence", "Scheduled"),
    ("When_a_new_email_arrives_(V3)", "Automated"),
    ("When_an_item_is_created", "Automated"),
    ("When_a_file_is_created_(properties_only)", "Automated"),
    ("When_a_new_response_is_submitted", "Automated"),
    ("manual", "Manual"),
    ("For_a_selected_item", "Manual"),
    ("When_a_new_channel_message_is_added", "Automated"),
    ("PowerApps", "Manual"),
    ("When_an_item_or_a_file_is_modified", "Automated"),
];
const TRIGGER_WEIGHTS: &[u32] = &[30, 14, 14, 8, 8, 8, 5, 5, 4, 4];

static FIRST: &[&str] = &[
    "Adele",
    "Alex",
    "Allan",
    "Anika",
    "Bianca",
    "Brian",
    "Carlos",
    "Chen",
    "Christie",
    "Daniel",
    "Debra",
    "Diego",
    "Elena",
    "Emily",
    "Enrico",
    "Fatima",
    "Grady",
    "Hannah",
    "Henrietta",
    "Hiro",
    "Ines",
    "Isaiah",
    "Jana",
    "Johanna",
    "Joni",
    "Jun",
    "Kai",
    "Karin",
    "Lee",
    "Lidia",
    "Lynne",
    "Malik",
    "Megan",
    "Miriam",
    "Nestor",
    "Nadia",
    "Olga",
    "Omar",
    "Patti",
    "Pradeep",
    "Priya",
    "Quentin",
    "Raul",
    "Rosa",
    "Sakura",
    "Samir",
    "Sofia",
    "Tariq",
    "Tomasz",
    "Uma",
    "Valeria",
    "Viktor",
    "Wen",
    "Xavier",
    "Yara",
    "Yusuf",
    "Zoe",
    "Zanele",
    "Ingrid",
    "Mateo",
    "Noor",
    "Oskar",
    "Leila",
    "Kwame",
];
static LAST: &[&str] = &[
    "Vance",
    "Wilber",
    "Deyoung",
    "Nakamura",
    "Diaz",
    "Johnson",
    "Mendes",
    "Wei",
    "Cline",
    "Okafor",
    "Berg",
    "Rossi",
    "Petrova",
    "Braun",
    "Gautier",
    "Haddad",
    "Archie",
    "Lindqvist",
    "Ortiz",
    "Tanaka",
    "Sousa",
    "Brooks",
    "Novak",
    "Schmidt",
    "Kowalski",
    "Park",
    "Hoang",
    "Larsen",
    "Adams",
    "Moreno",
    "Robinson",
    "Bianchi",
    "Kumar",
    "Sharma",
    "Dubois",
    "Costa",
    "Murphy",
    "Sato",
    "Eriksen",
    "Fischer",
    "Garcia",
    "Hughes",
    "Ivanova",
    "Jansen",
    "Khan",
    "Lopez",
    "Mensah",
    "Nilsen",
    "Olsen",
    "Pereira",
    "Quinn",
    "Reyes",
    "Silva",
    "Torres",
    "Ueda",
    "Varga",
    "Walsh",
    "Yilmaz",
    "Zimmer",
    "Abebe",
    "Baker",
    "Castro",
    "Dlamini",
    "Ek",
];
static FLOW_NAMES: &[&str] = &[
    "Invoicing flow",
    "Daily sales report",
    "Approval reminder",
    "Copy new files to SharePoint",
    "Save email attachments to OneDrive",
    "Notify team of new Forms response",
    "Weekly status digest",
    "New hire onboarding",
    "Expense approval",
    "Sync Planner tasks",
    "Archive old list items",
    "Escalate overdue tickets",
    "Post standup reminder in Teams",
    "Contract renewal alerts",
    "Update CRM from Excel",
    "Purchase order approval",
    "Leave request approval",
    "Collect timesheets",
    "Customer feedback triage",
    "Send birthday greetings",
    "Backup site documents",
    "Flag high-priority emails",
    "Vendor invoice intake",
    "Month-end close checklist",
    "Incident notification",
    "Room booking confirmation",
    "Training completion tracker",
    "Asset check-out log",
    "Welcome email for guests",
    "Quote follow-up",
];
static SUFFIXES: &[&str] = &[
    "",
    "",
    "",
    " (copy)",
    " v2",
    " - Finance",
    " - HR",
    " - Sales",
    " - IT",
    " - Ops",
    " - EMEA",
    " - test",
];
static DOMAINS: &[&str] = &[
    "contoso.com",
    "fabrikam.com",
    "northwindtraders.com",
    "adatum.com",
    "litwareinc.com",
    "tailspintoys.com",
];
/// Azure region short names used in connector hosts (`office365-we.azconn-we-002...`).
pub static REGIONS: &[&str] = &["we", "ne", "eus", "wus", "uks", "sea", "cus", "jpe"];

/// The sign-in failure kinds a connection can be broken by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AuthKind {
    /// AADSTS50076: MFA required (a CA policy enabled after the connection was made).
    Mfa,
    /// AADSTS700082: refresh token expired through inactivity.
    Inactive,
    /// AADSTS50173: grant revoked (password change or reset).
    Revoked,
    /// AADSTS53003: blocked by conditional access.
    CaBlocked,
    /// AADSTS50057: the user account is disabled.
    Disabled,
}

impl AuthKind {
    /// From when a connection broken this way at `broke` can no longer have worked: the
    /// break itself, or for an inactive token the day it was last issued, which its
    /// message states (at least 90 days before the break, as the token service words it).
    pub fn unusable_from(self, broke: u64) -> u64 {
        match self {
            AuthKind::Inactive => {
                // A spread of up to 60 days past the 90, fixed per connection.
                let spread = broke % (60 * DAY * TICKS);
                broke.saturating_sub(90 * DAY * TICKS + spread)
            }
            _ => broke,
        }
    }

    pub const ALL: [AuthKind; 5] = [
        AuthKind::Mfa,
        AuthKind::Inactive,
        AuthKind::Revoked,
        AuthKind::CaBlocked,
        AuthKind::Disabled,
    ];

    pub fn index(self) -> usize {
        self as usize
    }

    pub fn code(self) -> u32 {
        match self {
            AuthKind::Mfa => 50076,
            AuthKind::Inactive => 700082,
            AuthKind::Revoked => 50173,
            AuthKind::CaBlocked => 53003,
            AuthKind::Disabled => 50057,
        }
    }
}

#[derive(Debug)]
pub struct Environment {
    /// `Default-<tenant id>` or a GUID.
    pub name: String,
    pub display: String,
    /// Dataverse host label (`contoso`, `contoso-finance`).
    pub org: String,
}

#[derive(Debug)]
pub struct Owner {
    pub id: String,
    pub name: String,
    pub upn: String,
    /// This owner's connections: `connections[first..first + count]`.
    pub first_conn: u32,
    pub conn_count: u32,
}

#[derive(Debug)]
pub struct Connection {
    /// `shared-office365-<guid>`, the join key.
    pub name: String,
    pub connector: u8,
    pub owner: u32,
    pub env: u32,
    /// Seconds since the epoch.
    pub created: u64,
    /// Broken by this kind from this tick on.
    pub broken: Option<(AuthKind, u64)>,
    /// Connector host region.
    pub region: u8,
}

impl Connection {
    /// Whether a run at `t` can have used this connection without failing on its break.
    pub fn works_at(&self, t: u64) -> bool {
        self.broken
            .is_none_or(|(kind, at)| t < kind.unusable_from(at))
    }
}

#[derive(Debug)]
pub struct Flow {
    pub id: String,
    pub name: String,
    pub owner: u32,
    pub env: u32,
    pub trigger: u8,
    /// Connections this flow references (`conn_ids[..conn_len]`, at most one per connector
    /// of its owner, so at most four); the first is the one its failing action uses. Kept
    /// inline: the hot loop reads it for every run.
    conn_ids: [u32; 4],
    conn_len: u8,
    /// Seconds since the epoch.
    pub created: u64,
    pub modified: u64,
}

impl Flow {
    /// The connections this flow references, the failing one first.
    #[inline]
    pub fn conns(&self) -> &[u32] {
        &self.conn_ids[..self.conn_len as usize]
    }
}

/// The whole tenant.
#[derive(Debug)]
pub struct Tenant {
    pub tenant_id: String,
    pub domain: &'static str,
    pub environments: Vec<Environment>,
    pub owners: Vec<Owner>,
    pub connections: Vec<Connection>,
    pub flows: Vec<Flow>,
    /// Run start times fall in `window_start..window_end` (ticks).
    pub window_start: u64,
    pub window_end: u64,
    /// For each [`AuthKind`], the flows whose first connection it broke.
    pub broken_flows: [Vec<u32>; 5],
}

/// Tenant dimensions for an expected number of run records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scale {
    pub owners: u32,
    pub flows: u32,
    pub environments: u32,
}

impl Scale {
    /// Owners ~ records/2000 (20..=5,000), flows ~ records/250 (40..=40,000), environments
    /// ~ owners/150 (1..=12).
    pub fn for_records(records: u64) -> Scale {
        let owners = (records / 2000).clamp(20, 5000) as u32;
        let flows = (records / 250).clamp(40, 40_000) as u32;
        let environments = (owners / 150).clamp(1, 12);
        Scale {
            owners,
            flows,
            environments,
        }
    }
}

/// Share of connections broken, per million, and how the broken ones split by kind (the
/// same order as [`AuthKind::ALL`], proportional to the run failure mix).
const BROKEN_PER_MILLION: u32 = 220_000;
const BROKEN_KIND_WEIGHTS: [u32; 5] = [33, 12, 8, 7, 5];

impl Tenant {
    pub fn build(seed: u64, scale: Scale) -> Tenant {
        let mut rng = Rng::new(seed, 1);
        let tenant_id = text::guid(&mut rng);
        let domain = *rng.pick(DOMAINS);
        let org = domain.split('.').next().unwrap_or("contoso");

        // The window ends on a day between 2024-01-01 and mid-2025 and spans 28..=90 days.
        let end_day = text::days_from_civil(2024, 1, 1) + rng.below(540);
        let span_days = rng.range(28, 90);
        let window_end = end_day * DAY * TICKS;
        let window_start = window_end - span_days * DAY * TICKS;
        let start_secs = window_start / TICKS;

        let mut environments = Vec::with_capacity(scale.environments as usize);
        environments.push(Environment {
            name: format!("Default-{tenant_id}"),
            display: format!("{} (default)", title(org)),
            org: org.to_string(),
        });
        const ENV_NAMES: &[&str] = &[
            "finance",
            "hr",
            "sales",
            "it",
            "ops",
            "legal",
            "marketing",
            "dev",
            "test",
            "emea",
            "apac",
        ];
        for i in 1..scale.environments as usize {
            let label = ENV_NAMES[(i - 1) % ENV_NAMES.len()];
            environments.push(Environment {
                name: text::guid(&mut rng),
                display: format!("{} {}", title(org), title(label)),
                org: format!("{org}-{label}"),
            });
        }

        // Owners: unique display names from a scrambled walk over first x last names.
        let combos = (FIRST.len() * LAST.len()) as u64;
        let stride = 2_654_435_761 % combos; // coprime with 64 x 64
        let offset = rng.below(combos);
        let mut owners = Vec::with_capacity(scale.owners as usize);
        let mut connections = Vec::new();
        let weights: Vec<u32> = CONNECTORS.iter().map(|c| c.weight).collect();
        for i in 0..u64::from(scale.owners) {
            let k = (offset + i * stride) % combos;
            let lap = i / combos;
            let first = FIRST[(k % FIRST.len() as u64) as usize];
            let last = LAST[(k / FIRST.len() as u64) as usize];
            let name = format!("{first} {last}");
            let upn = if lap == 0 {
                format!("{}.{}@{domain}", first.to_lowercase(), last.to_lowercase())
            } else {
                format!(
                    "{}.{}{}@{domain}",
                    first.to_lowercase(),
                    last.to_lowercase(),
                    lap + 1
                )
            };
            let env = if rng.per_million(700_000) {
                0
            } else {
                rng.below(u64::from(scale.environments)) as u32
            };
            // One to four connections, to distinct connectors.
            let first_conn = connections.len() as u32;
            let n = rng.weighted(&[40, 30, 20, 10]) + 1;
            let mut used = [false; 8];
            for _ in 0..n {
                let mut c = rng.weighted(&weights);
                while used[c] {
                    c = (c + 1) % CONNECTORS.len();
                }
                used[c] = true;
                let mut name = Vec::with_capacity(60);
                name.extend_from_slice(CONNECTORS[c].api.replace('_', "-").as_bytes());
                name.push(b'-');
                text::push_guid(&mut name, &mut rng);
                let created = start_secs - rng.range(DAY, 700 * DAY);
                let broken = if rng.per_million(BROKEN_PER_MILLION) {
                    let kind = AuthKind::ALL[rng.weighted(&BROKEN_KIND_WEIGHTS)];
                    Some((kind, break_time(&mut rng, kind, window_start, window_end)))
                } else {
                    None
                };
                connections.push(Connection {
                    name: String::from_utf8(name).expect("ASCII"),
                    connector: c as u8,
                    owner: i as u32,
                    env,
                    created,
                    broken,
                    region: rng.below(REGIONS.len() as u64) as u8,
                });
            }
            owners.push(Owner {
                id: text::guid(&mut rng),
                name,
                upn,
                first_conn,
                conn_count: n as u32,
            });
        }

        let mut flows = Vec::with_capacity(scale.flows as usize);
        for _ in 0..scale.flows {
            // Busy owners own more flows.
            let owner = rng.skewed(u64::from(scale.owners)) as u32;
            let o = &owners[owner as usize];
            let primary = o.first_conn + rng.below(u64::from(o.conn_count)) as u32;
            let mut conn_ids = [primary; 4];
            let mut conn_len = 1;
            for c in o.first_conn..o.first_conn + o.conn_count {
                if c != primary && rng.per_million(350_000) {
                    conn_ids[conn_len] = c;
                    conn_len += 1;
                }
            }
            let name = format!("{}{}", rng.pick(FLOW_NAMES), rng.pick(SUFFIXES));
            let created = connections[primary as usize].created + rng.below(30 * DAY);
            let modified = created + rng.below(120 * DAY);
            flows.push(Flow {
                id: text::guid(&mut rng),
                name,
                owner,
                env: connections[primary as usize].env,
                trigger: rng.weighted(TRIGGER_WEIGHTS) as u8,
                conn_ids,
                conn_len: conn_len as u8,
                created,
                modified: modified.min(start_secs),
            });
        }

        let mut tenant = Tenant {
            tenant_id,
            domain,
            environments,
            owners,
            connections,
            flows,
            window_start,
            window_end,
            broken_flows: Default::default(),
        };
        tenant.index_broken(&mut rng);
        tenant
    }

    /// Fill `broken_flows`; make sure every kind has at least one flow to fail, so small
    /// tenants still show every kind.
    fn index_broken(&mut self, rng: &mut Rng) {
        for (k, kind) in AuthKind::ALL.iter().enumerate() {
            let has = self.flows.iter().any(|f| {
                matches!(self.connections[f.conns()[0] as usize].broken, Some((b, _)) if b == *kind)
            });
            if !has {
                // Take a flow whose first connection is healthy, spreading picks over kinds.
                let n = self.flows.len();
                let start = (k * n / AuthKind::ALL.len() + n / 10) % n;
                for j in 0..n {
                    let f = &self.flows[(start + j) % n];
                    let c = f.conns()[0] as usize;
                    if self.connections[c].broken.is_none() {
                        let t = break_time(rng, *kind, self.window_start, self.window_end);
                        self.connections[c].broken = Some((*kind, t));
                        break;
                    }
                }
            }
        }
        let mut lists: [Vec<u32>; 5] = Default::default();
        for (i, f) in self.flows.iter().enumerate() {
            if let Some((kind, _)) = self.connections[f.conns()[0] as usize].broken {
                lists[kind.index()].push(i as u32);
            }
        }
        self.broken_flows = lists;
    }

    pub fn env_of(&self, flow: &Flow) -> &Environment {
        &self.environments[flow.env as usize]
    }
}

/// When a connection breaks. MFA (a policy switched on) and CA blocks (a policy tightened)
/// come in waves, one day for most connections; inactivity, revocation and disabled
/// accounts are spread over the window. Always leaves some time before the window ends.
fn break_time(rng: &mut Rng, kind: AuthKind, start: u64, end: u64) -> u64 {
    let span = end - start;
    let wave = |rng: &mut Rng, at: u64| {
        if rng.per_million(750_000) {
            start + at + rng.below(36 * 3600 * TICKS)
        } else {
            start + rng.below(span * 9 / 10)
        }
    };
    match kind {
        AuthKind::Mfa => wave(rng, span / 3),
        AuthKind::CaBlocked => wave(rng, span * 2 / 3),
        _ => start + rng.below(span * 9 / 10),
    }
}

fn title(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}
