//! The step-level set: long operations logs where the answer sits in **one step**.
//!
//! Built differently from the topic corpus on purpose. Each episode is an on-call sweep of a
//! team's services ("Nightly health sweep of the billing team's services") — a task text that
//! dozens of episodes share — with 30 to 60 tool calls whose outputs are routine log lines
//! over the same services, hosts and paths. One step of each episode holds an event (a
//! refused connection, an expiring certificate, a consumer group falling behind …) with its
//! own identifiers. A query asks about one such event in other words, keeping one or two of
//! its identifiers, as a person would ("payments-api could not open a TCP connection to
//! 10.4.7.21 — refused on port 5432"). The one relevant episode is the one whose step holds
//! that event; events of the same kind with other identifiers, and routine lines naming the
//! same services, are the near misses.

use crate::rng::Rng;
use chrono::{DateTime, Duration, Utc};
use memory_core::learning::{compute_reward, reflect};
use memory_core::{
    Episode, RetrievalQuery, StepInput, StepResult, TaskContext, TaskOutcome, TaskType, to_micros,
};
use serde_json::json;

const TEAMS: &[&str] = &[
    "billing",
    "search",
    "identity",
    "checkout",
    "catalog",
    "messaging",
    "analytics",
    "platform",
    "storage",
    "mobile",
    "growth",
    "support",
];

const TASKS: &[&str] = &[
    "Nightly health sweep of the {team} team's services",
    "On-call handover review for {team}",
    "Weekly reliability check of {team} production",
    "Triage overnight alerts for the {team} on-call rotation",
    "Post-deploy verification of {team} services",
];

const SERVICES: &[&str] = &[
    "payments-api",
    "ledger-writer",
    "invoice-renderer",
    "search-indexer",
    "query-gateway",
    "auth-service",
    "token-minter",
    "session-store",
    "cart-service",
    "order-router",
    "catalog-sync",
    "price-engine",
    "notify-worker",
    "email-relay",
    "sms-bridge",
    "event-collector",
    "report-builder",
    "metrics-agg",
    "blob-proxy",
    "thumbnailer",
    "upload-scanner",
    "geo-lookup",
    "fraud-scorer",
    "refund-worker",
    "tax-calculator",
    "inventory-api",
    "shipping-quotes",
    "recommendation-svc",
    "feature-store",
    "audit-log",
    "webhook-dispatcher",
    "scheduler",
    "rate-limiter",
    "config-server",
    "edge-router",
    "image-cdn-origin",
    "chat-backend",
    "presence-svc",
    "billing-cron",
    "export-worker",
];

const TOOLS: &[(&str, &str)] = &[
    ("kubectl_logs", "read the recent logs of {svc}"),
    ("grep_logs", "search {svc} logs for warnings"),
    ("curl_health", "probe the health endpoint of {svc}"),
    ("check_metrics", "look at the dashboards of {svc}"),
    ("psql_query", "check the database behind {svc}"),
    ("kubectl_get", "list the pods of {svc}"),
    ("read_runbook", "open the runbook of {svc}"),
    ("ssh_exec", "inspect the host running {svc}"),
];

/// Routine lines: services, hosts, addresses, ports, paths and versions — the identifiers
/// queries also use — but none of the events' own vocabulary.
const ROUTINE: &[&str] = &[
    "INFO {svc}: request completed in {n} ms path={path}",
    "INFO {svc}: health check ok ({n} ms)",
    "INFO {svc}: cache hit ratio 0.{n}",
    "INFO pod {svc}-{pod} Running on {host}",
    "INFO {svc}: connected to {ip}:{port}",
    "WARN {svc}: slow request {n} ms path={path}",
    "INFO {svc}: {n} jobs queued",
    "INFO {svc}: deployed {version}",
    "INFO {svc}: gc pause {n} ms",
    "INFO {svc}: config reloaded from {host}",
];

/// An event a step can hold, and how a person would ask about it: the same slots, other
/// words.
struct Event {
    line: &'static str,
    query: &'static str,
}

const EVENTS: &[Event] = &[
    Event {
        line: "ERROR {svc}: dial tcp {ip}:{port}: connect: connection refused (retry {n}/5)",
        query: "{svc} could not open a TCP connection to {ip} — refused on port {port}",
    },
    Event {
        line: "WARN {svc}: x509 certificate for {domain} expires in {n} days",
        query: "TLS cert of {domain} about to lapse, seen on {svc}",
    },
    Event {
        line: "ERROR {svc}: container {container} OOMKilled (memory limit {n}Mi)",
        query: "the {container} container of {svc} was killed for running out of memory",
    },
    Event {
        line: "ERROR {svc}: migration {n}_{table} failed: column \"{column}\" contains null values",
        query: "schema change on {table} broke because {column} had empty values",
    },
    Event {
        line: "ERROR {svc}: HTTP 503 on {path} for {n}s during rollout of {version}",
        query: "{path} returned service unavailable while {version} was being rolled out",
    },
    Event {
        line: "WARN {host}: filesystem /var/lib/{svc} at {pct}% used",
        query: "disk nearly full under the {svc} data directory on {host}",
    },
    Event {
        line: "WARN {svc}: consumer group {group} lag {n} messages on topic {topic}",
        query: "consumer group {group} falling behind on {topic}",
    },
    Event {
        line: "ERROR cron {job} on {svc} exited with status {code}",
        query: "scheduled task {job} of {svc} ended with exit code {code}",
    },
    Event {
        line: "WARN {svc}: rate limit exceeded for API key ending {hex} ({n} req/min)",
        query: "API key ending in {hex} being throttled by {svc}",
    },
    Event {
        line: "ERROR resolver {ip}: lookup {domain}: SERVFAIL",
        query: "name resolution of {domain} failing at the {ip} resolver",
    },
    Event {
        line: "WARN {svc}: replica {db} replication lag {n}s",
        query: "read replica {db} of {svc} behind the primary by many seconds",
    },
    Event {
        line: "INFO config: feature flag {flag} set to {state} by {user}",
        query: "who switched {flag} {state}",
    },
    Event {
        line: "ERROR {svc}: deadlock detected on {table} (pid {n})",
        query: "two transactions locked each other on {table}",
    },
    Event {
        line: "WARN {svc}: circuit breaker to {peer} opened after {n} failures",
        query: "{svc} stopped calling {peer} because the breaker tripped",
    },
];

const DOMAINS: &[&str] = &[
    "api.shopfront.io",
    "pay.shopfront.io",
    "auth.example.net",
    "cdn.assets-eu.com",
    "mail.notify-hub.org",
    "search.internal.lan",
    "grafana.ops.lan",
    "status.shopfront.io",
    "webhooks.partner-gw.com",
    "files.blobstore.dev",
    "id.example.net",
    "tiles.geo-api.com",
];
const PATHS: &[&str] = &[
    "/v1/charges",
    "/v1/refunds",
    "/api/cart",
    "/api/orders",
    "/login",
    "/oauth/token",
    "/search",
    "/catalog/items",
    "/checkout/confirm",
    "/upload",
    "/reports/export",
    "/webhooks/stripe",
    "/healthz",
    "/metrics",
];
const TABLES: &[&str] = &[
    "invoices",
    "ledger_entries",
    "orders",
    "customers",
    "sessions",
    "refunds",
    "shipments",
    "price_rules",
    "audit_events",
    "coupons",
    "subscriptions",
    "tax_rates",
];
const COLUMNS: &[&str] = &[
    "invoice_total",
    "customer_id",
    "currency",
    "created_by",
    "region_code",
    "discount_pct",
    "shipping_zone",
    "tax_id",
    "email_verified",
    "plan_tier",
];
const TOPICS: &[&str] = &[
    "orders.created",
    "payments.settled",
    "emails.outbound",
    "search.reindex",
    "audit.stream",
    "inventory.delta",
    "users.signup",
    "clicks.raw",
];
const GROUPS: &[&str] = &[
    "ledger-consumers",
    "email-senders",
    "indexer-pool",
    "audit-sinks",
    "fraud-readers",
    "analytics-etl",
    "notify-fanout",
];
const JOBS: &[&str] = &[
    "nightly-invoice-run",
    "purge-sessions",
    "rotate-keys",
    "rebuild-sitemap",
    "sync-fx-rates",
    "export-ledger",
    "compact-events",
    "expire-carts",
];
const CONTAINERS: &[&str] = &["worker", "sidecar-envoy", "api", "migrator", "cache-warmer"];
const DBS: &[&str] = &[
    "pg-ledger-r1",
    "pg-orders-r2",
    "mysql-catalog-r1",
    "pg-auth-r3",
];
const FLAGS: &[&str] = &[
    "new-checkout-flow",
    "async-refunds",
    "search-v2-ranking",
    "strict-csp",
    "batch-emails",
    "geo-pricing",
    "fast-login",
];
const USERS: &[&str] = &["mkovacs", "jdoe", "apatel", "lchen", "ops-bot", "rsilva"];
const PORTS: &[&str] = &["5432", "6379", "9092", "443", "8080", "3306", "11211"];

/// One episode of the set and the question whose answer is in it.
pub struct LogEpisode {
    /// The complete episode.
    pub episode: Episode,
    /// A query about the event in one of its steps, in other words.
    pub query: String,
    /// The step (1-based) that holds the event.
    pub step: u32,
}

/// A seeded stream of [`LogEpisode`]s (the same seed, the same stream).
pub struct LogsGen {
    rng: Rng,
    now: DateTime<Utc>,
}

impl LogsGen {
    /// The stream for `seed`, its episodes ending before `now`.
    pub fn new(seed: u64, now: DateTime<Utc>) -> Self {
        LogsGen {
            rng: Rng(seed ^ 0x10c5_10c5),
            now,
        }
    }

    /// The next episode, in `namespace`.
    pub fn next_episode(&mut self, namespace: &str) -> LogEpisode {
        let rng = &mut self.rng;
        let team_at = rng.below(TEAMS.len());
        let team = TEAMS[team_at];
        // A team runs a handful of services; its sweeps read their logs.
        let own: Vec<&str> = (0..4)
            .map(|k| SERVICES[(team_at * 3 + k * 7) % SERVICES.len()])
            .collect();
        let task = rng.pick(TASKS).replace("{team}", team);
        let steps_n = 30 + rng.below(31);
        let event_at = rng.below(steps_n);
        let event = &EVENTS[rng.below(EVENTS.len())];
        let slots = Slots::draw(rng);
        let started_at =
            to_micros(self.now - Duration::seconds(3_600 + rng.below(60 * 86_400) as i64));
        let mut at = started_at;
        let mut steps = Vec::with_capacity(steps_n);
        for i in 0..steps_n {
            let (tool, action) = rng.pick(TOOLS);
            let svc = rng.pick(&own);
            let mut lines: Vec<String> = (0..1 + rng.below(3))
                .map(|_| Slots::draw(rng).fill(rng.pick(ROUTINE), svc))
                .collect();
            if i == event_at {
                let pos = rng.below(lines.len() + 1);
                lines.insert(pos, slots.fill(event.line, slots.svc));
            }
            let latency = 20 + rng.below(3_000) as u64;
            let step = StepInput::new(
                tool,
                action.replace("{svc}", svc),
                StepResult::Success {
                    output: lines.join("\n"),
                },
            )
            .with_latency_ms(latency)
            .with_parameters(json!({ "target": svc }));
            at = to_micros(at + Duration::milliseconds(latency as i64 + 500));
            steps.push(step.into_step(i as u32 + 1, at));
        }
        let ended_at = to_micros(at + Duration::seconds(5));
        let outcome = TaskOutcome::Success {
            verdict: format!("sweep of {team} done; findings filed"),
            artifacts: vec![],
        };
        let id = super::episode_id(rng, started_at);
        let reward = compute_reward(&outcome, &steps, None);
        let reflection = reflect(&outcome, &steps, None);
        LogEpisode {
            query: slots.fill(event.query, slots.svc),
            step: event_at as u32 + 1,
            episode: Episode {
                id,
                namespace: namespace.to_string(),
                task_description: task,
                task_type: TaskType::Analysis,
                context: TaskContext {
                    domain: Some("operations".into()),
                    tags: vec![team.to_string()],
                    ..TaskContext::default()
                },
                started_at,
                ended_at: Some(ended_at),
                steps,
                outcome: Some(outcome),
                reward: Some(reward),
                reflection: Some(reflection),
                pattern_ids: Vec::new(),
                tags: Vec::new(),
                metadata: serde_json::Map::new(),
                retrieval_session: None,
            },
        }
    }
}

/// The identifiers one line is written with.
struct Slots {
    svc: &'static str,
    peer: &'static str,
    ip: String,
    port: &'static str,
    n: usize,
    pct: usize,
    hex: String,
    pod: String,
    host: String,
    domain: &'static str,
    path: &'static str,
    table: &'static str,
    column: &'static str,
    topic: &'static str,
    group: &'static str,
    job: &'static str,
    code: &'static str,
    container: &'static str,
    db: &'static str,
    flag: &'static str,
    state: &'static str,
    user: &'static str,
    version: String,
}

impl Slots {
    fn draw(rng: &mut Rng) -> Slots {
        Slots {
            svc: rng.pick(SERVICES),
            peer: rng.pick(SERVICES),
            ip: format!(
                "10.{}.{}.{}",
                rng.below(16),
                rng.below(256),
                2 + rng.below(250)
            ),
            port: rng.pick(PORTS),
            n: 2 + rng.below(998),
            pct: 91 + rng.below(9),
            hex: format!("{:04x}", rng.below(0x10000)),
            pod: format!("{:05x}", rng.below(0x100000)),
            host: format!("node-{}", 1 + rng.below(64)),
            domain: rng.pick(DOMAINS),
            path: rng.pick(PATHS),
            table: rng.pick(TABLES),
            column: rng.pick(COLUMNS),
            topic: rng.pick(TOPICS),
            group: rng.pick(GROUPS),
            job: rng.pick(JOBS),
            code: rng.pick(&["1", "2", "137", "143", "124"]),
            container: rng.pick(CONTAINERS),
            db: rng.pick(DBS),
            flag: rng.pick(FLAGS),
            state: rng.pick(&["on", "off"]),
            user: rng.pick(USERS),
            version: format!("v{}.{}.{}", 1 + rng.below(4), rng.below(20), rng.below(10)),
        }
    }

    fn fill(&self, template: &str, svc: &str) -> String {
        template
            .replace("{svc}", svc)
            .replace("{peer}", self.peer)
            .replace("{ip}", &self.ip)
            .replace("{port}", self.port)
            .replace("{n}", &self.n.to_string())
            .replace("{pct}", &self.pct.to_string())
            .replace("{hex}", &self.hex)
            .replace("{pod}", &self.pod)
            .replace("{host}", &self.host)
            .replace("{domain}", self.domain)
            .replace("{path}", self.path)
            .replace("{table}", self.table)
            .replace("{column}", self.column)
            .replace("{topic}", self.topic)
            .replace("{group}", self.group)
            .replace("{job}", self.job)
            .replace("{code}", self.code)
            .replace("{container}", self.container)
            .replace("{db}", self.db)
            .replace("{flag}", self.flag)
            .replace("{state}", self.state)
            .replace("{user}", self.user)
            .replace("{version}", &self.version)
    }
}

/// The query of a [`LogEpisode`] as an agent would send it: the text alone, no context.
pub fn query_of(namespace: &str, text: &str, limit: usize, budget: usize) -> RetrievalQuery {
    RetrievalQuery {
        limit,
        token_budget: budget,
        ..RetrievalQuery::new(namespace, text)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn same_seed_same_stream_and_every_event_in_one_step() {
        let now = Utc::now();
        let mut a = LogsGen::new(1, now);
        let mut b = LogsGen::new(1, now);
        let mut ids = HashSet::new();
        for _ in 0..200 {
            let x = a.next_episode("ns");
            let y = b.next_episode("ns");
            assert_eq!(x.episode, y.episode);
            assert_eq!(x.query, y.query);
            assert!(ids.insert(x.episode.id));
            assert!((30..=60).contains(&x.episode.steps.len()));
            let text = serde_json::to_string(&x.episode).unwrap();
            assert!(
                !text.contains('{') || !text.contains("{svc}"),
                "unfilled slot"
            );
            assert!(!x.query.contains('{'), "{}", x.query);
            assert!(x.step >= 1 && x.step as usize <= x.episode.steps.len());
            // The query is not a copy of the line it asks about.
            let StepResult::Success { output } = &x.episode.steps[x.step as usize - 1].result
            else {
                panic!("steps succeed")
            };
            assert!(!output.contains(&x.query));
        }
    }
}
