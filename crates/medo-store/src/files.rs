//! The files backend: the journal's segments in `state_dir/journal/`, the sled index in
//! `state_dir/store/`, the checkpoints in `journal/checkpoints/` and the anchor of every
//! commit in `state_dir/anchor.note` (outside the journal's folder, so restoring an older
//! journal does not restore an older anchor with it). Opened and checked at start by the
//! engine's start (which refuses a journal cut, replaced or broken before anything is
//! decided); this type only binds the three for [`Backend::commit`].

use std::path::{Path, PathBuf};

use crate::checkpoint::{self, CheckpointError};
use crate::index::Store;
use crate::journal::{self, Event, Record};
use crate::seam::{Backend, CommitError, Notary};

/// Today's backend: one machine's files.
pub struct Files {
    journal: journal::Journal,
    index: Store,
    anchor: PathBuf,
}

impl Files {
    /// Binds an opened journal and index; `state` is the state folder the anchor lives in.
    pub fn new(journal: journal::Journal, index: Store, state: &Path) -> Files {
        Files {
            journal,
            index,
            anchor: checkpoint::anchor_path(state),
        }
    }
}

impl Backend for Files {
    type Journal = journal::Journal;
    type Index = Store;

    fn journal(&self) -> &journal::Journal {
        &self.journal
    }

    fn index(&self) -> &Store {
        &self.index
    }

    fn commit(
        &mut self,
        events: Vec<Event>,
        now: &str,
        notary: &Notary,
    ) -> Result<Vec<Record>, CommitError<CheckpointError>> {
        let anchor = &self.anchor;
        crate::seam::commit(&mut self.journal, &self.index, events, now, |j, written| {
            let (end, head) = (j.next_seq(), j.head());
            let before = end - written.len() as u64;
            if notary.checkpoint_due(before, end) {
                checkpoint::write(j.dir(), notary.key, notary.origin, end, head)?;
            }
            // the anchor of every group commit: a journal cut or replaced is refused at start
            checkpoint::write_anchor(anchor, notary.key, notary.origin, end, head)
        })
    }

    fn checkpoint(&self, notary: &Notary) -> Result<(), CheckpointError> {
        let (end, head) = (self.journal.next_seq(), self.journal.head());
        checkpoint::write(self.journal.dir(), notary.key, notary.origin, end, head)?;
        Ok(())
    }
}
