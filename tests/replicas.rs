//! Two `serve` processes behind one address, on one PostgreSQL store and one Kafka-protocol
//! broker: a delivery is answered once whichever replica gets it, each sees the other's
//! incidents, and when one is killed (`kill -9`) the other takes the event relay over within
//! seconds with no event lost, on the partitions a Java client would choose.

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::broker::{free_port, read_topic, tansu, Broker};
use support::fake_slack::{post_event, FakeSlack, BOT_TOKEN};
use support::serve::{ingest_incident, ServeProcess};

const SECRET: &str = "replica-signing-secret";
const TOPIC: &str = "replica.verdicts";
const PARTITIONS: i32 = 3;
/// Metrics (event keys) checked after the takeover, so keys land on several partitions.
const METRICS: [&str; 4] = [
    "api_latency",
    "checkout_p99",
    "orders_queue_depth",
    "db_pool_wait",
];

/// Kafka's Java `Utils.murmur2`, which its default partitioner (and Redpanda's tooling, and
/// librdkafka's `murmur2_random`) use for keyed records.
fn murmur2(data: &[u8]) -> i32 {
    const M: u32 = 0x5bd1_e995;
    let mut h: u32 = 0x9747_b28c ^ data.len() as u32;
    let mut chunks = data.chunks_exact(4);
    for chunk in &mut chunks {
        let mut k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> 24;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M) ^ k;
    }
    let rest = chunks.remainder();
    if rest.len() == 3 {
        h ^= u32::from(rest[2]) << 16;
    }
    if rest.len() >= 2 {
        h ^= u32::from(rest[1]) << 8;
    }
    if !rest.is_empty() {
        h ^= u32::from(rest[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// The partition a Java producer picks for `key`.
fn java_partition(key: &str, partitions: i32) -> i32 {
    (murmur2(key.as_bytes()) & 0x7fff_ffff) % partitions
}

#[test]
fn murmur2_matches_kafkas_own_test_vectors() {
    // From Kafka's UtilsTest.testMurmur2.
    assert_eq!(murmur2(b"21"), -973_932_308);
    assert_eq!(murmur2(b"foobar"), -790_332_482);
    assert_eq!(murmur2(b"a-little-bit-long-string"), -985_981_536);
    assert_eq!(murmur2(b"a-little-bit-longer-string"), -1_486_304_829);
    assert_eq!(
        murmur2(b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"),
        -58_897_971
    );
}

/// Polls `/healthz` until one replica leads the event relay; its index.
async fn relay_leader(replicas: &[&ServeProcess], within: Duration) -> Option<usize> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        for (i, replica) in replicas.iter().enumerate() {
            if replica.health().await["integrations"]["event_relay"]["leading"] == true {
                return Some(i);
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

/// Replica `i`, still running.
fn live(replicas: &[Option<ServeProcess>], i: usize) -> &ServeProcess {
    replicas[i].as_ref().expect("a running replica")
}

/// The "Seen before" lines of a posted verdict.
fn seen_before(post: &Value) -> usize {
    post["blocks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|b| b["elements"][0]["text"].as_str())
        .find(|t| t.starts_with("Seen before:"))
        .map_or(0, |t| t.lines().count() - 1)
}

#[cfg_attr(
    not(all(test_postgres, test_tansu)),
    ignore = "needs PostgreSQL and a broker: set ANOMALY_HUNTER_TEST_POSTGRES_URL and ANOMALY_HUNTER_TEST_TANSU"
)]
#[tokio::test(flavor = "multi_thread")]
async fn two_replicas_answer_once_share_incidents_and_hand_over_the_relay() {
    let Some(postgres) = std::env::var(support::POSTGRES_ENV)
        .ok()
        .filter(|u| !u.is_empty())
    else {
        return support::missing(support::POSTGRES_ENV, "two_replicas");
    };
    let Some(tansu) = tansu("two_replicas") else {
        return;
    };
    let broker = Broker::start(&tansu, free_port());
    let database_url = support::postgres_schema_url(&postgres, "replicas").await;
    let (slack, api) = FakeSlack::start().await;
    let dirs = [
        support::scratch_dir("replica-a"),
        support::scratch_dir("replica-b"),
    ];
    for metric in METRICS {
        ingest_incident(&dirs[0], metric, &[("DATABASE_URL", &database_url)]);
    }
    let broker_address = broker.address();
    let env = [
        ("DATABASE_URL", database_url.as_str()),
        ("SLACK_SIGNING_SECRET", SECRET),
        ("SLACK_BOT_TOKEN", BOT_TOKEN),
        ("SLACK_API_URL", api.as_str()),
        ("REDPANDA_BROKERS", broker_address.as_str()),
        ("REDPANDA_TOPIC", TOPIC),
        ("REDPANDA_TOPIC_PARTITIONS", "3"),
    ];
    let mut replicas = vec![
        Some(ServeProcess::start_in(dirs[0].clone(), &env)),
        Some(ServeProcess::start_in(dirs[1].clone(), &env)),
    ];
    let mut verdicts = 0;

    // B investigates first (its incident index is loaded, empty), then A, then B again: B's
    // second verdict cites both incidents, A's included.
    for i in [1, 0, 1] {
        support::fake_slack::slash(&live(&replicas, i).url, SECRET, "check api_latency").await;
        verdicts += 1;
        slack.wait_for("chat.postMessage", verdicts, 30).await;
    }
    let posts = slack.calls("chat.postMessage");
    assert_eq!(seen_before(&posts[0].body), 0);
    assert_eq!(
        seen_before(&posts[2].body),
        2,
        "B cites A's incident too: {}",
        posts[2].body
    );

    // One mention, delivered to both replicas (a retry), and as `message` and `app_mention`.
    let mention = |kind: &str| {
        json!({"type": kind, "channel": "C0INCIDENT", "user": "U0SRE",
               "text": "<@U0BOT> check api_latency", "ts": "1700000100.000001"})
    };
    post_event(
        &live(&replicas, 0).url,
        SECRET,
        "Ev1",
        mention("app_mention"),
    )
    .await;
    post_event(
        &live(&replicas, 1).url,
        SECRET,
        "Ev1",
        mention("app_mention"),
    )
    .await;
    post_event(&live(&replicas, 1).url, SECRET, "Ev2", mention("message")).await;
    post_event(&live(&replicas, 0).url, SECRET, "Ev2", mention("message")).await;
    verdicts += 1;
    slack.wait_for("chat.postMessage", verdicts, 30).await;
    // A later command, answered after any duplicate would have been: still one answer each.
    support::fake_slack::slash(&live(&replicas, 0).url, SECRET, "check api_latency").await;
    verdicts += 1;
    slack.wait_for("chat.postMessage", verdicts, 30).await;
    assert_eq!(
        slack.calls("chat.postMessage").len(),
        verdicts,
        "one verdict per human action"
    );

    // The relay: one leads; killed, the other takes over within seconds and loses nothing.
    let leader = relay_leader(
        &[live(&replicas, 0), live(&replicas, 1)],
        Duration::from_secs(20),
    )
    .await
    .expect("one replica holds the event relay lease");
    let survivor = 1 - leader;
    replicas[leader].take(); // dropped: SIGKILL, as `kill -9` or the OOM killer would
    for metric in METRICS {
        let command = format!("check {metric}");
        support::fake_slack::slash(&live(&replicas, survivor).url, SECRET, &command).await;
        verdicts += 1;
        slack.wait_for("chat.postMessage", verdicts, 30).await;
    }
    assert_eq!(
        relay_leader(&[live(&replicas, survivor)], Duration::from_secs(20)).await,
        Some(0),
        "the survivor takes the relay over within seconds (a 10 s lease); log:\n{}",
        live(&replicas, survivor).log()
    );
    // The lease shows on /healthz as soon as it is taken; the log line follows the first
    // publish after it.
    let says_so = async {
        while !live(&replicas, survivor)
            .log()
            .contains("now holds the event relay lease")
        {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    assert!(
        tokio::time::timeout(Duration::from_secs(20), says_so)
            .await
            .is_ok(),
        "and says so; log:\n{}",
        live(&replicas, survivor).log()
    );

    let records = read_topic(&broker_address, TOPIC, verdicts, Duration::from_secs(60));
    let ids: BTreeSet<&str> = records
        .iter()
        .filter_map(|r| r.payload["id"].as_str())
        .collect();
    assert_eq!(
        ids.len(),
        verdicts,
        "every verdict's event, none lost: {records:?}"
    );
    for record in &records {
        assert_eq!(
            record.partition,
            java_partition(&record.key, PARTITIONS),
            "`{}` is on the partition a Java producer would use",
            record.key
        );
    }
}
