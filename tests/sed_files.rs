//! Issue 16, item 1 (files): the СЭД fetches an appeal's files over HTTP — listed with their
//! digests, streamed from the archive with type, length, `ETag` and an RFC 6266 name; ДСП
//! files only with the `dsp` scope; a file changed in the archive is never served whole.

mod common;

use std::collections::HashMap;
use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::env::{free_port, Env, Service};
use sha2::{Digest, Sha256};

/// A response: status, headers (lower-case names), the body bytes as far as they came.
struct Reply {
    status: u16,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

/// `GET path` with a bearer token and extra headers; reads until the server closes (a
/// connection cut short gives what came).
fn get(port: u16, path: &str, token: &str, extra: &[(&str, &str)]) -> Reply {
    send(port, "GET", path, token, extra, None)
}

/// Any request, with a body of a content type.
fn send(
    port: u16,
    method: &str,
    path: &str,
    token: &str,
    extra: &[(&str, &str)],
    body: Option<(&str, &[u8])>,
) -> Reply {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
         Authorization: Bearer {token}\r\n"
    );
    for (k, v) in extra {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    let mut bytes = req.into_bytes();
    match body {
        Some((kind, body)) => {
            let head = format!(
                "Content-Type: {kind}\r\nContent-Length: {}\r\n\r\n",
                body.len()
            );
            bytes.extend_from_slice(head.as_bytes());
            bytes.extend_from_slice(body);
        }
        None => bytes.extend_from_slice(b"\r\n"),
    }
    s.write_all(&bytes).unwrap();
    let mut raw = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
        }
    }
    // a response cut off before its head (the server closed the connection): status 0
    let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Reply {
            status: 0,
            headers: HashMap::new(),
            body: Vec::new(),
        };
    };
    let head = String::from_utf8(raw[..end].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_lowercase(), v.to_string()))
        .collect();
    Reply {
        status,
        headers,
        body: raw[end + 4..].to_vec(),
    }
}

fn json(r: &Reply) -> serde_json::Value {
    serde_json::from_slice(&r.body).unwrap_or(serde_json::Value::Null)
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Percent-encodes a path segment.
fn segment(name: &str) -> String {
    name.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Where a file of an archived package rests (the test looks; the API never says).
fn archived(state: &Path, name: &str) -> PathBuf {
    let mut stack = vec![state.join("archive")];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().unwrap() == name {
                return p;
            }
        }
    }
    panic!("{name} is not archived");
}

/// The 2.2 sample with its appeal file renamed to a Cyrillic name, as a new document.
fn cyrillic_appeal(env: &Env) {
    let d = env.drop_sample("urog-appeal-2.2", "cyr");
    common::packages::new_document(&d, 500, "Письмо", "А26-02-500", "x");
    fs::rename(d.join("appeal.pdf"), d.join("Обращение гражданина.pdf")).unwrap();
    for f in ["document.xml", "envelope.ini"] {
        common::packages::cp1251_edit(&d.join(f), |t| {
            t.replace("appeal.pdf", "Обращение гражданина.pdf")
        });
    }
}

#[test]
fn an_appeals_files_are_listed_and_streamed_as_they_arrived() {
    let env = Env::new();
    let port = free_port();
    let (reader, reader_toml) = env.api_client("reader", "read");
    let (dsp, dsp_toml) = env.api_client("delo", "read,write,dsp");
    env.add_sections(&format!(
        "[http]\nlisten = \"127.0.0.1:{port}\"\n[api]\n{reader_toml}\n{dsp_toml}"
    ));
    cyrillic_appeal(&env);
    // a file in the folder that nothing names (issue 26 item 15)
    fs::write(env.inbound.join("cyr").join("extra.exe"), b"MZ not ours").unwrap();
    common::packages::make_restricted(&env.drop_sample("urog-appeal-2.7.1", "dsp"));
    env.once();
    let service = Service::start(&env);
    common::wait_http(port);
    let list = json(&get(port, "/api/v1/appeals", &reader, &[]));
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{list}");
    let plain = items.iter().find(|a| a["restricted"] == false).unwrap();
    let secret = items.iter().find(|a| a["restricted"] == true).unwrap();

    // the 2.2 appeal: every file of its folder but the envelope, each with its role
    let files = plain["files"].as_array().unwrap();
    let role = |name: &str| {
        files
            .iter()
            .find(|f| f["name"] == name)
            .map(|f| f["role"].clone())
    };
    assert_eq!(files.len(), 4, "{files:?}");
    assert_eq!(role("extra.exe").unwrap(), "other", "reported as unlisted");
    assert_eq!(role("document.xml").unwrap(), "message");
    assert_eq!(role("cover-letter.pdf").unwrap(), "document");
    assert_eq!(role("Обращение гражданина.pdf").unwrap(), "attachment");
    let id = plain["id"].as_u64().unwrap();
    // what it says, as `appeals show` has it (issue 26 item 17)
    let one = json(&get(port, &format!("/api/v1/appeals/{id}"), &reader, &[]));
    let content = &one["content"];
    assert!(
        content["annotation"]
            .as_str()
            .is_some_and(|t| !t.is_empty()),
        "{one}"
    );
    assert!(content["kind"].is_string(), "{one}");
    assert_eq!(
        content["cover_letter"]["number"], plain["urog_number"],
        "{one}"
    );
    assert_eq!(content["delivery"], "МЭДО");
    assert_eq!(content["sender"], "УРОГ", "{one}");
    let unlisted = get(
        port,
        &format!("/api/v1/appeals/{id}/files/extra.exe"),
        &reader,
        &[],
    );
    assert_eq!(unlisted.status, 404, "not served as part of the appeal");
    assert!(json(&unlisted)["detail"]
        .as_str()
        .unwrap()
        .contains("не входит в обращение"));
    for f in files.iter().filter(|f| f["role"] != "other") {
        let name = f["name"].as_str().unwrap();
        let bytes = fs::read(archived(&env.state, name)).unwrap();
        assert_eq!(f["sha256"], sha256(&bytes), "{name}");
        assert_eq!(f["size"], bytes.len() as u64, "{name}");
        let r = get(
            port,
            &format!("/api/v1/appeals/{id}/files/{}", segment(name)),
            &reader,
            &[],
        );
        assert_eq!(r.status, 200, "{name}");
        assert_eq!(r.body, bytes, "{name}: the bytes that arrived");
        assert_eq!(r.headers["etag"], format!("\"{}\"", sha256(&bytes)));
        assert_eq!(r.headers["content-length"], bytes.len().to_string());
    }
    let name = "Обращение гражданина.pdf";
    let path = format!("/api/v1/appeals/{id}/files/{}", segment(name));
    let r = get(port, &path, &reader, &[]);
    assert_eq!(r.headers["content-type"], "application/pdf");
    assert_eq!(
        r.headers["content-disposition"],
        format!(
            "attachment; filename=\"_________ __________.pdf\"; filename*=UTF-8''{}",
            segment(name).replace("%2E", ".")
        )
    );
    let etag = r.headers["etag"].clone();
    let again = get(port, &path, &reader, &[("If-None-Match", &etag)]);
    assert_eq!((again.status, again.body.len()), (304, 0), "unchanged: 304");
    let missing = get(
        port,
        &format!("/api/v1/appeals/{id}/files/nothing.pdf"),
        &reader,
        &[],
    );
    assert_eq!(missing.status, 404);
    assert_eq!(json(&missing)["status"], 404);
    let r = get(
        port,
        &format!("/api/v1/appeals/{id}/files/..%2Fenvelope.ini"),
        &reader,
        &[],
    );
    assert_eq!(r.status, 404, "only listed names");

    // the ДСП container: without `dsp` a number, dates and a state, nothing more (issue 26
    // item 13) — no file names, sizes, digests, signatures or history
    let sid = secret["id"].as_u64().unwrap();
    assert_eq!(secret["files"], serde_json::json!([]), "{secret}");
    assert_eq!(secret["signatures"], serde_json::json!([]), "{secret}");
    let one = json(&get(port, &format!("/api/v1/appeals/{sid}"), &reader, &[]));
    assert_eq!(one["history"], serde_json::json!([]), "{one}");
    assert_eq!(one["appeal"]["files"], serde_json::json!([]), "{one}");
    let feed = json(&get(port, "/api/v1/changes", &reader, &[]));
    for item in feed["items"].as_array().unwrap() {
        if item["appeal"] == sid && item["change"] != "query_answered" {
            assert!(
                item.get("detail").is_none() && item.get("by").is_none(),
                "{item}"
            );
        }
    }
    let full = json(&get(port, "/api/v1/appeals", &dsp, &[]));
    let secret = full["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == sid)
        .unwrap()
        .clone();
    let one = json(&get(port, &format!("/api/v1/appeals/{sid}"), &dsp, &[]));
    assert_ne!(one["history"], serde_json::json!([]), "with dsp: {one}");
    // its entries, only to a token with `dsp`
    let entries = secret["files"].as_array().unwrap();
    let passport = entries.iter().find(|f| f["role"] == "passport").unwrap();
    assert!(passport["container"]
        .as_str()
        .unwrap()
        .ends_with(".edc.zip"));
    let doc = entries.iter().find(|f| f["role"] == "document").unwrap();
    let doc_path = format!(
        "/api/v1/appeals/{sid}/files/{}",
        segment(doc["name"].as_str().unwrap())
    );
    let refused = get(port, &doc_path, &reader, &[]);
    assert_eq!(refused.status, 403);
    assert!(json(&refused)["detail"].as_str().unwrap().contains("dsp"));
    let r = get(port, &doc_path, &dsp, &[]);
    assert_eq!(r.status, 200);
    assert_eq!(
        sha256(&r.body),
        doc["sha256"].as_str().unwrap(),
        "the entry as inflated"
    );

    // a file changed in the archive after it arrived: cut off, never served whole
    let at = archived(&env.state, "cover-letter.pdf");
    let mut bytes = fs::read(&at).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    fs::write(&at, &bytes).unwrap();
    let r = get(
        port,
        &format!("/api/v1/appeals/{id}/files/cover-letter.pdf"),
        &reader,
        &[],
    );
    // cut off: a 200 head with a short body, or (nothing of the body sent yet) no answer
    assert!(
        r.status != 200 || r.body.len() < bytes.len(),
        "the changed file must not arrive whole"
    );
    assert_ne!(r.body, bytes);
    assert!(service.stop().success());
}

/// A `multipart/form-data` body: the part `event` (JSON) and, if given, the part `file`.
fn form(boundary: &str, event: &str, file: Option<(&str, &[u8])>) -> Vec<u8> {
    let mut b = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"event\"\r\n\
         Content-Type: application/json\r\n\r\n{event}\r\n"
    )
    .into_bytes();
    if let Some((name, bytes)) = file {
        b.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
                 Content-Type: application/pdf\r\n\r\n"
            )
            .as_bytes(),
        );
        b.extend_from_slice(bytes);
        b.extend_from_slice(b"\r\n");
    }
    b.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    b
}

/// Issue 16, item 2: a step's file as `multipart/form-data`; a retry with another boundary
/// is the same request (replayed), another file under the same key a conflict.
#[test]
fn a_step_takes_its_file_as_multipart_form_data() {
    let env = Env::new();
    let port = free_port();
    let (token, toml) = env.api_client("delo", "read,write");
    env.add_sections(&format!(
        "[http]\nlisten = \"127.0.0.1:{port}\"\n[limits]\nmax_answer_bytes = 4096\n[api]\n{toml}"
    ));
    env.drop_sample("urog-appeal-2.2", "a");
    env.once();
    let service = Service::start(&env);
    common::wait_http(port);
    let path = "/api/v1/appeals/1/events";
    let post = |boundary: &str, key: &str, event: &str, file: Option<(&str, &[u8])>| {
        let kind = format!("multipart/form-data; boundary={boundary}");
        let body = form(boundary, event, file);
        send(
            port,
            "POST",
            path,
            &token,
            &[("Idempotency-Key", key)],
            Some((&kind, &body)),
        )
    };
    let answer = r#"{"step":"answered","result":"explained"}"#;
    let pdf = &medo_gateway::samples::minimal_pdf("multipart answer")[..];
    let r = post("b1", "k1", answer, Some(("Ответ заявителю.pdf", pdf)));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let r = post(
        "another-boundary",
        "k1",
        answer,
        Some(("Ответ заявителю.pdf", pdf)),
    );
    assert_eq!(r.status, 200);
    assert_eq!(json(&r)["replayed"], true, "the same request, framed anew");
    // the feed's step item names the appeal's number (issue 26 item 17)
    let feed = json(&get(port, "/api/v1/changes", &token, &[]));
    let step = feed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["change"] == "appeal_step")
        .cloned()
        .unwrap_or_else(|| panic!("{feed}"));
    assert!(
        step["number"]
            .as_str()
            .is_some_and(|n| n.starts_with("ОГ-")),
        "{step}"
    );
    let r = post(
        "b2",
        "k1",
        answer,
        Some((
            "Ответ заявителю.pdf",
            &medo_gateway::samples::minimal_pdf("other")[..],
        )),
    );
    assert_eq!(r.status, 409, "another file under the same key");
    assert_eq!(
        env.records_of_kind("appeal_progress").len(),
        1,
        "applied once"
    );
    assert_eq!(
        fs::read(env.state.join("answers/1/Ответ заявителю.pdf")).unwrap(),
        pdf
    );
    let refused = [
        (
            post(
                "b3",
                "k2",
                r#"{"step":"executor-assigned","executor":"Иванов"}"#,
                Some(("a.pdf", pdf)),
            ),
            "файл принимают только",
        ),
        (
            post("b4", "k3", answer, Some(("../x.pdf", pdf))),
            "имя файла",
        ),
        (
            post("b5", "k4", answer, Some(("big.pdf", &[b'%'; 5000]))),
            "max_answer_bytes",
        ),
    ];
    for (r, why) in &refused {
        let detail = json(r)["detail"].as_str().unwrap_or_default().to_string();
        assert!(r.status == 400 || r.status == 422, "{}: {detail}", r.status);
        assert!(detail.contains(why), "{why}: {detail}");
    }
    let kind = "multipart/form-data; boundary=x";
    let r = send(port, "POST", path, &token, &[], Some((kind, b"--x\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.pdf\"\r\n\r\n%PDF\r\n--x--\r\n")));
    assert_eq!(r.status, 400);
    assert!(json(&r)["detail"].as_str().unwrap().contains("\"event\""));
    assert!(service.stop().success());
}
