//! A real SMB share for the tests: Samba's `smbd` serving a temporary folder inside a network
//! namespace of its own (its own loopback, so port 445 is free and tests do not meet), mounted
//! through `smbnetfs` (libsmbclient over FUSE) at a folder every process of the machine sees —
//! the gateway then reads and writes its spool through the SMB protocol, as a Linux gateway
//! does with a Windows VipNet node's share. Needs root, `unshare`, `ip`, `smbd`, `smbnetfs`
//! and `/dev/fuse`; where they are missing it says so (under CI the programs are required).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A share being served and mounted; dropped: unmounted, the servers stopped.
pub struct Smb {
    root: tempfile::TempDir,
    child: Child,
}

const PROGRAMS: [&str; 4] = [
    "/usr/sbin/smbd",
    "/usr/bin/smbnetfs",
    "/usr/bin/unshare",
    "/usr/sbin/ip",
];

impl Smb {
    /// Serves and mounts a share; `None` (said on stderr) where this machine cannot.
    pub fn start() -> Option<Smb> {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
        let missing: Vec<&str> = PROGRAMS
            .into_iter()
            .filter(|p| !Path::new(p).exists())
            .collect();
        if !missing.is_empty() {
            assert!(
                !ci,
                "CI=true: the SMB share test needs samba and smbnetfs ({missing:?})"
            );
            eprintln!(
                "SKIPPED: no SMB share here ({missing:?} missing): the SMB spool test is not run"
            );
            return None;
        }
        use std::os::unix::fs::MetadataExt;
        let root_user = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
        if !root_user || !Path::new("/dev/fuse").exists() {
            eprintln!(
                "SKIPPED: the SMB share needs root and /dev/fuse: the SMB spool test is not run"
            );
            return None;
        }
        let root = tempfile::tempdir().unwrap();
        let smb = Smb::serve(root);
        match smb.wait_mounted() {
            Ok(()) => Some(smb),
            Err(log) => {
                // a machine whose kernel refuses a network namespace or FUSE: said, not failed
                eprintln!("SKIPPED: the SMB share did not come up in 30 s; the SMB spool test is not run: {log}");
                None
            }
        }
    }

    fn serve(root: tempfile::TempDir) -> Smb {
        let r = root.path();
        for d in ["share", "mnt", "run", "home/.smb"] {
            std::fs::create_dir_all(r.join(d)).unwrap();
        }
        std::fs::write(r.join("smb.conf"), server_conf(r)).unwrap();
        let netfs = "show_$_shares \"true\"\nauth \"guest\" \"\"\nsmb_query_browsers \"false\"\n";
        std::fs::write(r.join("home/.smb/smbnetfs.conf"), netfs).unwrap();
        std::fs::write(r.join("home/.smb/smb.conf"), "").unwrap();
        let script = format!(
            "ip link set lo up\n\
             smbd --foreground --no-process-group -s {conf} >{run}/smbd.out 2>&1 &\n\
             i=0; while [ ! -e {run}/smbd.pid ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done\n\
             sleep 0.5\n\
             HOME={home} exec smbnetfs {mnt} -f\n",
            conf = r.join("smb.conf").display(),
            run = r.join("run").display(),
            home = r.join("home").display(),
            mnt = r.join("mnt").display(),
        );
        let log = std::fs::File::create(r.join("run/up.out")).unwrap();
        let child = {
            use std::os::unix::process::CommandExt;
            Command::new("unshare")
                .args(["--net", "sh", "-c", &script])
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .process_group(0)
                .spawn()
                .unwrap()
        };
        Smb { root, child }
    }

    /// The share's folder as the gateway sees it (through SMB).
    pub fn path(&self) -> PathBuf {
        self.root.path().join("mnt/127.0.0.1/spool")
    }

    /// The share's folder on the server's own disk (what the SMB server serves).
    pub fn served(&self) -> PathBuf {
        self.root.path().join("share")
    }

    /// Waits until the share answers through the mount; `Err`: the start's log.
    fn wait_mounted(&self) -> Result<(), String> {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(30) {
            if std::fs::read_dir(self.path()).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(300));
        }
        Err(std::fs::read_to_string(self.root.path().join("run/up.out")).unwrap_or_default())
    }
}

/// Samba's configuration: one guest share of `root/share`, everything else kept in `root`.
fn server_conf(root: &Path) -> String {
    let (share, run) = (root.join("share"), root.join("run"));
    let run = run.display();
    format!(
        "[global]\n  server role = standalone server\n  map to guest = Bad User\n  \
         smb ports = 445\n  bind interfaces only = yes\n  interfaces = lo\n  \
         pid directory = {run}\n  lock directory = {run}\n  state directory = {run}\n  \
         cache directory = {run}\n  private dir = {run}\n  log file = {run}/log.%m\n  \
         disable spoolss = yes\n  load printers = no\n\
         [spool]\n  path = {}\n  read only = no\n  guest ok = yes\n  force user = root\n",
        share.display()
    )
}

impl Drop for Smb {
    fn drop(&mut self) {
        let mnt = self.root.path().join("mnt");
        let _ = Command::new("umount").arg("-l").arg(&mnt).status();
        let pgid = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-TERM", "--", &pgid]).status();
        let _ = self.child.wait();
    }
}
