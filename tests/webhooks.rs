//! Issue 16, item 3: webhooks. Each change of the feed is POSTed to the client's URL, signed
//! with its secret, in journal order, retried with back-off while the СЭД fails — visible in
//! `/metrics` and on the dashboard — and none is lost across a `kill -9` of the service.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::env::{free_port, Env, Service};
use hmac::{Hmac, KeyInit, Mac};

/// One POST the receiver got, and what it answered.
#[derive(Debug, Clone)]
struct Delivery {
    id: String,
    event: String,
    signature: String,
    body: Vec<u8>,
    accepted: bool,
}

/// A СЭД's webhook endpoint: refuses (500) the first `fail_first` requests and any while
/// `down`, takes the rest.
struct Receiver {
    port: u16,
    got: Arc<Mutex<Vec<Delivery>>>,
    down: Arc<AtomicBool>,
}

fn receiver(fail_first: usize) -> Receiver {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let got = Arc::new(Mutex::new(Vec::new()));
    let down = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(AtomicUsize::new(0));
    let (g, d) = (got.clone(), down.clone());
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let mut conn = conn.unwrap();
            let Some(mut delivery) = read_request(&mut conn) else {
                continue;
            };
            let n = seen.fetch_add(1, Ordering::SeqCst);
            delivery.accepted = n >= fail_first && !d.load(Ordering::SeqCst);
            let status = if delivery.accepted {
                "200 OK"
            } else {
                "500 Internal Server Error"
            };
            g.lock().unwrap().push(delivery);
            let _ = conn.write_all(
                format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            );
        }
    });
    Receiver { port, got, down }
}

fn read_request(conn: &mut std::net::TcpStream) -> Option<Delivery> {
    let mut reader = BufReader::new(conn.try_clone().ok()?);
    let mut headers = std::collections::HashMap::new();
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    loop {
        line.clear();
        reader.read_line(&mut line).ok()?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let (k, v) = l.split_once(": ")?;
        headers.insert(k.to_lowercase(), v.to_string());
    }
    let len: usize = headers.get("content-length")?.parse().ok()?;
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    let header = |k: &str| headers.get(k).cloned().unwrap_or_default();
    Some(Delivery {
        id: header("x-medo-delivery"),
        event: header("x-medo-event"),
        signature: header("x-medo-signature"),
        body,
        accepted: false,
    })
}

impl Receiver {
    /// The accepted deliveries, once there are `n` (at most 20 s).
    fn accepted(&self, n: usize) -> Vec<Delivery> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let got: Vec<Delivery> = self
                .got
                .lock()
                .unwrap()
                .iter()
                .filter(|d| d.accepted)
                .cloned()
                .collect();
            if got.len() >= n {
                return got;
            }
            assert!(Instant::now() < deadline, "{} of {n} delivered", got.len());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn tries(&self) -> usize {
        self.got.lock().unwrap().len()
    }
}

fn get(port: u16, path: &str) -> String {
    get_as(port, path, "")
}

fn get_as(port: u16, path: &str, token: &str) -> String {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let auth = format!("Authorization: Bearer {token}\r\n");
    let auth = if token.is_empty() { "" } else { auth.as_str() };
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// A new appeal (a copy of the 2.2 sample with its own numbers) into the running service.
fn deliver_appeal(env: &Env, n: u32) {
    let staging = env.root.path().join(format!("staging-{n}"));
    common::env::copy_dir(&env.samples.join("urog-appeal-2.2"), &staging);
    common::packages::new_document(&staging, 600 + n, "Письмо", &format!("А26-02-6{n:02}"), "x");
    std::fs::rename(&staging, env.inbound.join(format!("appeal-{n}"))).unwrap();
}

#[test]
fn every_change_is_pushed_signed_in_order_and_retried_across_a_kill() {
    let hook = receiver(2);
    let env = Env::new();
    let port = free_port();
    let secret = b"a-secret-shared-with-the-sed";
    let secret_file = env.root.path().join("delo.secret");
    std::fs::write(&secret_file, [secret.as_slice(), b"\n"].concat()).unwrap();
    let (token, client_toml) = env.api_client("delo", "read");
    env.add_sections(&format!(
        "[http]\nlisten = \"127.0.0.1:{port}\"\n[api]\n{}\nwebhook_url = \"http://127.0.0.1:{}/medo\"\nwebhook_secret_file = {secret_file:?}\n",
        client_toml,
        hook.port
    ));
    let service = Service::start(&env);
    common::wait_http(port);
    deliver_appeal(&env, 1);
    deliver_appeal(&env, 2);
    let got = hook.accepted(4);
    // the first change was refused twice, then taken: three tries, one id
    assert_eq!(hook.tries(), 6, "two refusals, four deliveries");
    let first = hook.got.lock().unwrap()[..3].to_vec();
    assert!(first.iter().all(|d| d.id == got[0].id), "{first:?}");
    // the counters move when the service has read the answer: waited for
    let deadline = Instant::now() + Duration::from_secs(10);
    let wanted = [
        "medo_webhook_failures_total{client=\"delo\"} 2",
        "medo_webhook_delivered_total{client=\"delo\"} 4",
        "medo_webhook_failing{client=\"delo\"} 0",
    ];
    loop {
        let metrics = get(port, "/metrics");
        if wanted.iter().all(|w| metrics.contains(w)) {
            break;
        }
        assert!(Instant::now() < deadline, "{metrics}");
        std::thread::sleep(Duration::from_millis(50));
    }

    // the СЭД goes down: the service shows it, and is killed while retrying
    hook.down.store(true, Ordering::SeqCst);
    deliver_appeal(&env, 3);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !get(port, "/metrics").contains("medo_webhook_failing{client=\"delo\"} 1") {
        assert!(
            Instant::now() < deadline,
            "the failing webhook is not shown"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let page = get(port, "/");
    assert!(page.contains("не доставляется с"), "the dashboard shows it");
    assert!(
        page.contains(" МСК: HTTP 500"),
        "since when, in local time, and why: {page}"
    );
    drop(service); // SIGKILL
    hook.down.store(false, Ordering::SeqCst);
    let service = Service::start(&env);
    let got = hook.accepted(6);

    // every change of the feed, in its order, each once accepted, each body signed
    let feed: serde_json::Value = serde_json::from_str(
        get_as(port, "/api/v1/changes?after=", &token)
            .split("\r\n\r\n")
            .nth(1)
            .unwrap(),
    )
    .unwrap();
    let ids: Vec<&str> = got.iter().map(|d| d.id.as_str()).collect();
    let mut expected: Vec<String> = Vec::new();
    for item in feed["items"].as_array().into_iter().flatten() {
        expected.push(item["cursor"].as_str().unwrap().to_string());
    }
    assert_eq!(ids, expected, "every change of the feed, in order, once");
    for d in &got {
        assert_eq!(
            d.signature,
            sign(secret, &d.body),
            "signed over the raw body"
        );
        let item: serde_json::Value = serde_json::from_slice(&d.body).unwrap();
        assert_eq!(item["cursor"], d.id.as_str());
        assert_eq!(item["change"], d.event.as_str());
    }
    let kinds: Vec<&str> = got.iter().map(|d| d.event.as_str()).collect();
    assert_eq!(kinds, ["appeal_arrived", "appeal_registered"].repeat(3));
    assert!(service.stop().success());
}

/// Issue 29: two gateways on one PostgreSQL database, one spool and one shared folder, each
/// with the client's webhook: only the leader delivers (every change once, not once per
/// node), and after the leader is killed the new one goes on from the cursor the last left
/// in the shared folder. Says SKIPPED without a PostgreSQL server.
#[test]
fn of_two_gateways_only_the_leader_delivers_and_the_next_goes_on() {
    let Some(url) = medo_pg::testing::database("webhooks_two") else {
        return;
    };
    let hook = receiver(0);
    let (first, second) = (Env::new(), Env::new());
    second.share_spool_of(&first);
    let url_file = first.root.path().join("db.url");
    std::fs::write(&url_file, &url).unwrap();
    let shared = first.root.path().join("shared");
    let secret_file = first.root.path().join("delo.secret");
    std::fs::write(&secret_file, "a-secret\n").unwrap();
    let (_, client_toml) = first.api_client("delo", "read");
    let mut ports = Vec::new();
    for env in [&first, &second] {
        let port = free_port();
        env.add_spool(&format!("shared_dir = {shared:?}"));
        env.add_sections(&format!(
            "[storage]\nbackend = \"postgres\"\nurl_file = {url_file:?}\nlease_secs = 2\n[http]\nlisten = \"127.0.0.1:{port}\"\n[api]\n{client_toml}\nwebhook_url = \"http://127.0.0.1:{}/medo\"\nwebhook_secret_file = {secret_file:?}\n",
            hook.port
        ));
        ports.push(port);
    }
    let role = |port: u16| {
        let reply = get(port, "/healthz");
        let body = reply.split("\r\n\r\n").nth(1).unwrap_or("");
        serde_json::from_str::<serde_json::Value>(body).unwrap_or_default()["role"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    let wait_role = |port: u16, want: &str| {
        let deadline = Instant::now() + Duration::from_secs(20);
        while role(port) != want {
            assert!(
                Instant::now() < deadline,
                "no {want} at {port}: {}",
                get(port, "/healthz")
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let mut leader = Service::start(&first);
    wait_role(ports[0], "leader");
    let standby = Service::start(&second);
    wait_role(ports[1], "standby");
    deliver_appeal(&first, 1);
    deliver_appeal(&first, 2);
    hook.accepted(4);
    std::thread::sleep(Duration::from_secs(3));
    let ids = |hook: &Receiver| -> Vec<String> {
        hook.got
            .lock()
            .unwrap()
            .iter()
            .map(|d| d.id.clone())
            .collect()
    };
    let before = ids(&hook);
    assert_eq!(
        before.len(),
        4,
        "each change once, from the leader only: {before:?}"
    );
    leader.0.kill().unwrap();
    leader.0.wait().unwrap();
    wait_role(ports[1], "leader");
    deliver_appeal(&first, 3);
    hook.accepted(6);
    std::thread::sleep(Duration::from_secs(2));
    let mut all = ids(&hook);
    assert_eq!(
        all.len(),
        6,
        "the next leader goes on, nothing twice: {all:?}"
    );
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 6, "every delivery id once");
    assert!(standby.stop().success());
}
