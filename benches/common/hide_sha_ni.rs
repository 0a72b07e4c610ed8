//! Hides the SHA extensions (SHA-NI) from this process, so a SHA-NI machine measures the code
//! that CPUs without them run (Xeons before Ice Lake). Linux's CPUID faulting
//! (`arch_prctl(ARCH_SET_CPUID, 0)`, CPUs with `cpuid_fault`): every `cpuid` then traps; the
//! handler runs the real instruction with faulting briefly off and clears CPUID.(7,0):EBX[29]
//! (SHA) in the answer. Call it before anything detects CPU features (sha2's `cpufeatures`,
//! ring and std detect lazily, on first use). Per thread; reset by `execve`. Bench code only.
#![allow(dead_code)]

const ARCH_SET_CPUID: libc::c_long = 0x1012;

/// Hides SHA-NI from this thread; false when the kernel or CPU cannot fault `cpuid`.
pub fn hide() -> bool {
    // SAFETY: installs a SIGSEGV handler that only emulates `cpuid` (0F A2) and otherwise
    // restores the default action (the fault then recurs and kills the process as usual).
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_fault as *const () as usize;
        action.sa_flags = libc::SA_SIGINFO;
        libc::sigaction(libc::SIGSEGV, &action, std::ptr::null_mut());
        libc::syscall(libc::SYS_arch_prctl, ARCH_SET_CPUID, 0 as libc::c_long) == 0
    }
}

/// Whether the CPU says it has SHA-NI (as this thread sees it).
pub fn cpu_has_sha_ni() -> bool {
    let leaf7 = core::arch::x86_64::__cpuid_count(7, 0);
    leaf7.ebx >> 29 & 1 == 1
}

/// The CPU's model name (`/proc/cpuinfo`).
pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

/// The line each bench starts with: which CPU class its figures belong to.
pub fn cpu_line() -> String {
    format!(
        "cpu: {}; SHA-NI: {}",
        cpu_model(),
        if cpu_has_sha_ni() { "yes" } else { "no" }
    )
}

unsafe extern "C" fn on_fault(_: libc::c_int, _: *mut libc::siginfo_t, context: *mut libc::c_void) {
    let context = context as *mut libc::ucontext_t;
    let regs = &mut (*context).uc_mcontext.gregs;
    let rip = regs[libc::REG_RIP as usize] as *const u8;
    if *rip != 0x0F || *rip.add(1) != 0xA2 {
        libc::signal(libc::SIGSEGV, libc::SIG_DFL);
        return;
    }
    let (leaf, sub) = (
        regs[libc::REG_RAX as usize] as u32,
        regs[libc::REG_RCX as usize] as u32,
    );
    libc::syscall(libc::SYS_arch_prctl, ARCH_SET_CPUID, 1 as libc::c_long);
    let r = core::arch::x86_64::__cpuid_count(leaf, sub);
    libc::syscall(libc::SYS_arch_prctl, ARCH_SET_CPUID, 0 as libc::c_long);
    let ebx = if (leaf, sub) == (7, 0) {
        r.ebx & !(1 << 29)
    } else {
        r.ebx
    };
    regs[libc::REG_RAX as usize] = i64::from(r.eax);
    regs[libc::REG_RBX as usize] = i64::from(ebx);
    regs[libc::REG_RCX as usize] = i64::from(r.ecx);
    regs[libc::REG_RDX as usize] = i64::from(r.edx);
    regs[libc::REG_RIP as usize] += 2;
}
