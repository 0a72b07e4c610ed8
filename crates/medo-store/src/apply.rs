//! How one journal record changes the index — the arrivals' state machine and its lookups,
//! the outputs pending and awaited, the appeal book (`medo_core::book::fold`) and the re-send
//! tracker (`medo_core::resend::fold`) — written once over a **key-value transaction** ([`Kv`])
//! that each backend gives: sled's transactional trees for the files backend, and a
//! PostgreSQL transaction (the journal's own) for the database. One fold, the same keys and
//! values on either: two indexes agree exactly when their trees' digests do.

use serde::{Deserialize, Serialize};

use crate::index::{next_arrival, Arrival, PendingOutput, StoreError, APPLIED, ARRIVALS, HEAD};
use crate::journal::{Event, Output, Record};
use medo_core::book::{Appeal, DeadlineFacts, QueryFacts, Shelf, StatusFacts, Unrouted};
use medo_core::resend::{ResendShelf, Waiting};

/// The index's trees (sled's names; the database's `tree` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Tree {
    Arrivals,
    Keys,
    Uids,
    Claims,
    Open,
    Pending,
    Meta,
    Appeals,
    AppealIndex,
    Status,
    Awaiting,
}

impl Tree {
    pub const ALL: [Tree; 11] = [
        Tree::Arrivals,
        Tree::Keys,
        Tree::Uids,
        Tree::Claims,
        Tree::Open,
        Tree::Pending,
        Tree::Meta,
        Tree::Appeals,
        Tree::AppealIndex,
        Tree::Status,
        Tree::Awaiting,
    ];

    /// Its name (sled's tree; `store verify`'s digests).
    pub fn name(self) -> &'static str {
        match self {
            Tree::Arrivals => "arrivals",
            Tree::Keys => "keys",
            Tree::Uids => "uids",
            Tree::Claims => "claims",
            Tree::Open => "open",
            Tree::Pending => "pending",
            Tree::Meta => "meta",
            Tree::Appeals => "appeals",
            Tree::AppealIndex => "appeal_index",
            Tree::Status => "appeal_status",
            Tree::Awaiting => "awaiting",
        }
    }
}

/// The writes (and the reads they need) of applying records, inside the backend's
/// transaction: all of a commit's records or none.
pub trait Kv {
    type Error: From<StoreError>;
    type Value: AsRef<[u8]>;
    fn get(&self, tree: Tree, key: &[u8]) -> Result<Option<Self::Value>, Self::Error>;
    fn insert(&self, tree: Tree, key: &[u8], value: &[u8]) -> Result<(), Self::Error>;
    fn remove(&self, tree: Tree, key: &[u8]) -> Result<(), Self::Error>;
}

pub(crate) fn be(n: u64) -> [u8; 8] {
    n.to_be_bytes()
}

pub(crate) fn read_u64(v: &[u8]) -> u64 {
    u64::from_be_bytes(v.try_into().unwrap_or([0; 8]))
}

fn tx_decode<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Decode(e.to_string()))
}

fn tx_encode<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value).map_err(|e| StoreError::Decode(e.to_string()))
}

/// One record into the index, inside `kv`'s transaction (a record at or before the last one
/// applied is skipped).
pub fn apply_one<K: Kv>(kv: &K, record: &Record) -> Result<(), K::Error> {
    if kv
        .get(Tree::Meta, APPLIED)?
        .is_some_and(|s| record.seq <= read_u64(s.as_ref()))
    {
        return Ok(());
    }
    let current: Option<Arrival> = match record.event.arrival() {
        Some(a) => kv
            .get(Tree::Arrivals, &be(a))?
            .map(|v| tx_decode(v.as_ref()))
            .transpose()?,
        None => None,
    };
    // the package key of the arrival the record is about (appeal events carry none)
    let key = current.as_ref().map(|a| a.key.clone()).unwrap_or_default();
    let updated = next_arrival(record, current);
    let key = updated.as_ref().map_or(key, |a| a.key.clone());
    note_outputs(kv, record, &key)?;
    if let Some(a) = &updated {
        note_arrival(kv, record, a)?;
    }
    medo_core::book::fold(&mut TxShelf(kv), record)?;
    medo_core::resend::fold(&mut TxAwaiting(kv), record)?;
    kv.insert(Tree::Meta, APPLIED, &be(record.seq))?;
    kv.insert(Tree::Meta, HEAD, record.hash.as_bytes())?;
    Ok(())
}

/// The record's outputs become pending (by name, with the arrival's package `key`) and, but
/// receipts, awaited by their uid; a published one is pending no more; a partner's rejection
/// of ours is kept.
fn note_outputs<K: Kv>(kv: &K, record: &Record, key: &str) -> Result<(), K::Error> {
    for output in record.event.outputs() {
        let item = PendingOutput {
            arrival: record.event.arrival().unwrap_or(record.seq),
            key: key.into(),
            output: output.clone(),
        };
        kv.insert(Tree::Pending, output.name.as_bytes(), &tx_encode(&item)?)?;
        // our notices and documents by their uid: a rejection of one ties back to it (our
        // receipts are left out: most outputs are receipts, and a random-key insert each
        // cost a quarter of the apply rate; a rejected receipt stays in quarantine)
        if output.kind != medo_model::OutputKind::Receipt {
            let uid = output.message_uid.to_lowercase();
            let k = prefixed(b's', uid.as_bytes());
            kv.insert(Tree::Awaiting, &k, output.name.as_bytes())?;
        }
    }
    if let Event::Published { name, .. } = &record.event {
        kv.remove(Tree::Pending, name.as_bytes())?;
    }
    // the applicant is to be told of a status (`[smtp]`), until `applicant_notified`
    if let Some((appeal, status)) = told_status(&record.event) {
        let k = notification_key(appeal, status);
        match &record.event {
            Event::ApplicantNotified { .. } => kv.remove(Tree::Awaiting, &k)?,
            // the value: when the status was reached (an old one is not mailed)
            _ => kv.insert(Tree::Awaiting, &k, record.ts.as_bytes())?,
        }
    }
    // a person's approval of a document of ours, by the output's name
    if let Event::DocumentApproved { name, .. } = &record.event {
        kv.insert(Tree::Awaiting, &prefixed(APPROVED, name.as_bytes()), &[])?;
    }
    // our signature of a document, by the output's name: every send of it carries it
    if let Event::DocumentSigned {
        name, signature, ..
    } = &record.event
    {
        let k = prefixed(SIGNED, name.as_bytes());
        kv.insert(Tree::Awaiting, &k, &tx_encode(signature)?)?;
    }
    if let Event::ReceiptReceived {
        accepted: false, ..
    } = &record.event
    {
        let k = prefixed(b'x', &be(record.seq));
        kv.insert(Tree::Awaiting, &k, &tx_encode(record)?)?;
    }
    Ok(())
}

/// The arrival as it stands after the record, and its lookups: claimed (by claim folder,
/// open, counted), parsed (its package key and header uid, the first arrival of each),
/// archived (no longer claimed or open).
fn note_arrival<K: Kv>(kv: &K, record: &Record, a: &Arrival) -> Result<(), K::Error> {
    let id = be(a.arrival);
    kv.insert(Tree::Arrivals, &id, &tx_encode(a)?)?;
    match &record.event {
        Event::Received { claim, .. } => {
            kv.insert(Tree::Claims, claim.as_bytes(), &id)?;
            kv.insert(Tree::Open, &id, &[])?;
            let count = kv
                .get(Tree::Meta, ARRIVALS)?
                .map_or(0, |v| read_u64(v.as_ref()));
            kv.insert(Tree::Meta, ARRIVALS, &be(count + 1))?;
        }
        Event::Parsed {
            key, header_uid, ..
        } => {
            if kv.get(Tree::Keys, key.as_bytes())?.is_none() {
                kv.insert(Tree::Keys, key.as_bytes(), &id)?;
            }
            if kv.get(Tree::Uids, header_uid.as_bytes())?.is_none() {
                kv.insert(Tree::Uids, header_uid.as_bytes(), &id)?;
            }
        }
        Event::Archived { .. } => {
            kv.remove(Tree::Claims, a.claim.as_bytes())?;
            kv.remove(Tree::Open, &id)?;
        }
        _ => {}
    }
    Ok(())
}

/// The tag of the applicant's notifications due in `Awaiting` (appeal, status).
pub(crate) const NOTIFY: u8 = b'e';

/// `e\0` + the appeal (big-endian) + the status.
pub(crate) fn notification_key(appeal: u64, status: &str) -> Vec<u8> {
    let mut k = prefixed(NOTIFY, &be(appeal));
    k.extend_from_slice(status.as_bytes());
    k
}

/// The applicant's status a record makes due (registered, redirected, extended, answered), or
/// the one it tells (`applicant_notified`).
fn told_status(event: &Event) -> Option<(u64, &str)> {
    use medo_model::Step;
    match event {
        Event::AppealRegistered { appeal, .. } => Some((*appeal, "registered")),
        Event::AppealProgress { appeal, step, .. } => match step {
            Step::Redirected { .. } => Some((*appeal, "redirected")),
            Step::Extended { .. } => Some((*appeal, "extended")),
            Step::Answered { .. } => Some((*appeal, "answered")),
            _ => None,
        },
        Event::ApplicantNotified { appeal, status, .. } => Some((*appeal, status.as_str())),
        _ => None,
    }
}

/// The tag of our signatures in `Awaiting` (by output name).
pub(crate) const SIGNED: u8 = b'g';
/// The tag of the documents a person approved in `Awaiting` (by output name).
pub(crate) const APPROVED: u8 = b'v';

pub(crate) fn prefixed(tag: u8, rest: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(rest.len() + 2);
    k.push(tag);
    k.push(0);
    k.extend_from_slice(rest);
    k
}

pub(crate) fn urog_key(norm: &str, id: u64) -> Vec<u8> {
    let mut k = prefixed(b'u', norm.as_bytes());
    k.push(0);
    k.extend_from_slice(&be(id));
    k
}

/// A body → its appeals, in id order.
pub(crate) fn body_key(body: &str, id: u64) -> Vec<u8> {
    let mut k = prefixed(b'b', body.as_bytes());
    k.push(0);
    k.extend_from_slice(&be(id));
    k
}

/// Our number (normalised) → each appeal that carries it (one per body of a hub).
pub(crate) fn number_key(norm: &str, id: u64) -> Vec<u8> {
    let mut k = prefixed(b'n', norm.as_bytes());
    k.push(0);
    k.extend_from_slice(&be(id));
    k
}

/// A body's registration sequence of a year: the one body's (`main`) under the key it always
/// had, another body's under its id.
pub(crate) fn year_key(body: &str, year: i32) -> Vec<u8> {
    sequence_key((b'y', b'Y'), body, year)
}

pub(crate) fn outgoing_year_key(body: &str, year: i32) -> Vec<u8> {
    sequence_key((b'z', b'Z'), body, year)
}

fn sequence_key((main, other): (u8, u8), body: &str, year: i32) -> Vec<u8> {
    if body == medo_model::BodyId::MAIN {
        return prefixed(main, &year.to_be_bytes());
    }
    let mut k = prefixed(other, body.as_bytes());
    k.push(0);
    k.extend_from_slice(&year.to_be_bytes());
    k
}

pub(crate) fn unresolved_key(norm: &str, query: u64) -> Vec<u8> {
    let mut k = prefixed(b'r', norm.as_bytes());
    k.push(0);
    k.extend_from_slice(&be(query));
    k
}

/// Raises the sequence stored under `k` to at least `seq`.
fn raise<K: Kv>(kv: &K, k: Vec<u8>, seq: u64) -> Result<(), K::Error> {
    let old = kv
        .get(Tree::AppealIndex, &k)?
        .map_or(0, |v| read_u64(v.as_ref()));
    if seq > old {
        kv.insert(Tree::AppealIndex, &k, &be(seq))?;
    }
    Ok(())
}

/// The appeal book inside the index's transaction.
struct TxShelf<'a, K>(&'a K);

impl<K: Kv> TxShelf<'_, K> {
    fn put<T: Serialize>(&self, tree: Tree, key: &[u8], value: &T) -> Result<(), K::Error> {
        self.0.insert(tree, key, &tx_encode(value)?)
    }
    fn get_as<T: for<'de> Deserialize<'de>>(
        &self,
        tree: Tree,
        key: &[u8],
    ) -> Result<Option<T>, K::Error> {
        match self.0.get(tree, key)? {
            Some(v) => Ok(Some(tx_decode(v.as_ref())?)),
            None => Ok(None),
        }
    }
    fn mark(&self, key: &[u8]) -> Result<(), K::Error> {
        self.0.insert(Tree::AppealIndex, key, &[])
    }
}

impl<K: Kv> Shelf for TxShelf<'_, K> {
    type Error = K::Error;

    fn load(&self, id: u64) -> Result<Option<Appeal>, K::Error> {
        let Some(mut a) = self.get_as::<Appeal>(Tree::Appeals, &be(id))? else {
            return Ok(None);
        };
        a.pin_hash = self
            .0
            .get(Tree::AppealIndex, &prefixed(b'p', &be(id)))?
            .map(|p| String::from_utf8_lossy(p.as_ref()).into_owned().into());
        Ok(Some(a))
    }
    fn save(&mut self, appeal: &Appeal) -> Result<(), K::Error> {
        let id = be(appeal.id);
        self.put(Tree::Appeals, &id, appeal)?;
        self.put(Tree::Status, &id, &StatusFacts::from(appeal))?;
        let open = prefixed(b'o', &id);
        if appeal.state.is_open() {
            self.put(Tree::AppealIndex, &open, &DeadlineFacts::from(appeal))?;
        } else {
            self.0.remove(Tree::AppealIndex, &open)?;
        }
        if let Some(pin) = &appeal.pin_hash {
            let k = prefixed(b'p', &id);
            self.0.insert(Tree::AppealIndex, &k, pin.as_bytes())?;
        }
        // a body's appeals in id order: a hub's `appeals list --body` reads its own
        self.mark(&body_key(&appeal.body, appeal.id))
    }
    fn index_document(&mut self, uid: &str, id: u64) -> Result<(), K::Error> {
        let k = prefixed(b'd', uid.as_bytes());
        if self.0.get(Tree::AppealIndex, &k)?.is_none() {
            self.0.insert(Tree::AppealIndex, &k, &be(id))?;
        }
        Ok(())
    }
    fn index_number(&mut self, norm: &str, id: u64) -> Result<(), K::Error> {
        self.mark(&number_key(norm, id))
    }
    fn index_urog(&mut self, norm: &str, id: u64) -> Result<(), K::Error> {
        self.mark(&urog_key(norm, id))
    }
    fn raise_seq(&mut self, body: &str, year: i32, seq: u64) -> Result<(), K::Error> {
        raise(self.0, year_key(body, year), seq)
    }
    fn raise_outgoing_seq(&mut self, body: &str, year: i32, seq: u64) -> Result<(), K::Error> {
        raise(self.0, outgoing_year_key(body, year), seq)
    }
    fn note_query(&mut self, q: &QueryFacts, resolved: &[String]) -> Result<(), K::Error> {
        for n in resolved {
            self.0
                .remove(Tree::AppealIndex, &unresolved_key(n, q.arrival))?;
        }
        for n in &q.unresolved {
            let norm = medo_core::appeals::normalize_number(n);
            self.mark(&unresolved_key(&norm, q.arrival))?;
        }
        self.put(Tree::AppealIndex, &prefixed(b'q', &be(q.arrival)), q)
    }
    fn note_command(&mut self, id: &str) -> Result<(), K::Error> {
        self.mark(&prefixed(b'c', id.as_bytes()))
    }
    fn note_unrouted(&mut self, held: &Unrouted) -> Result<(), K::Error> {
        self.put(Tree::AppealIndex, &prefixed(b'h', &be(held.arrival)), held)
    }
    fn note_assigned(&mut self, arrival: u64) -> Result<(), K::Error> {
        self.0
            .remove(Tree::AppealIndex, &prefixed(b'h', &be(arrival)))
    }
    fn load_query(&self, arrival: u64) -> Result<Option<QueryFacts>, K::Error> {
        self.get_as(Tree::AppealIndex, &prefixed(b'q', &be(arrival)))
    }
    fn dir_of(&self, arrival: u64) -> Result<Option<String>, K::Error> {
        let a: Option<Arrival> = self.get_as(Tree::Arrivals, &be(arrival))?;
        Ok(a.and_then(|a| a.dir))
    }
    fn note_dir(&mut self, _arrival: u64, _dir: &str) -> Result<(), K::Error> {
        Ok(()) // the arrival itself records where it rests
    }
}

/// The re-send tracker inside the index's transaction.
struct TxAwaiting<'a, K>(&'a K);

impl<K: Kv> ResendShelf for TxAwaiting<'_, K> {
    type Error = K::Error;

    fn decided(&self, name: &str) -> Result<Option<(u64, Output)>, K::Error> {
        TxShelf(self.0).get_as(Tree::Awaiting, &prefixed(b'd', name.as_bytes()))
    }
    fn decide(&mut self, name: &str, arrival: u64, output: &Output) -> Result<(), K::Error> {
        let k = prefixed(b'd', name.as_bytes());
        TxShelf(self.0).put(Tree::Awaiting, &k, &(arrival, output))
    }
    fn forget_decided(&mut self, name: &str) -> Result<(), K::Error> {
        self.0
            .remove(Tree::Awaiting, &prefixed(b'd', name.as_bytes()))
    }
    fn waiting(&self, uid: &str) -> Result<Option<Waiting>, K::Error> {
        TxShelf(self.0).get_as(Tree::Awaiting, &prefixed(b'w', uid.as_bytes()))
    }
    fn wait(&mut self, uid: &str, w: &Waiting) -> Result<(), K::Error> {
        TxShelf(self.0).put(Tree::Awaiting, &prefixed(b'w', uid.as_bytes()), w)
    }
    fn stop_waiting(&mut self, uid: &str) -> Result<(), K::Error> {
        self.0
            .remove(Tree::Awaiting, &prefixed(b'w', uid.as_bytes()))
    }
}
