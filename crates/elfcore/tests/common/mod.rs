//! Builds small synthetic ELF cores and executables byte by byte, so tests
//! can exercise layouts no real sample has (PN_XNUM, arm64, damage).
#![allow(dead_code)]

pub const EM_X86_64: u16 = 62;
pub const EM_AARCH64: u16 = 183;
pub const ET_EXEC: u16 = 2;
pub const ET_CORE: u16 = 4;
pub const PT_LOAD: u32 = 1;
pub const PT_NOTE: u32 = 4;

/// One `PT_LOAD`: `data` is what the file holds (`filesz`), `memsz` may be larger.
pub struct Load {
    pub vaddr: u64,
    pub memsz: u64,
    pub flags: u32,
    pub data: Vec<u8>,
}

pub struct Note {
    pub name: &'static str,
    pub n_type: u32,
    pub desc: Vec<u8>,
}

pub struct Synth {
    pub e_type: u16,
    pub machine: u16,
    pub entry: u64,
    pub loads: Vec<Load>,
    pub notes: Vec<Note>,
    /// Write `e_phnum = 0xffff` and the real count in section 0's `sh_info`
    /// even when it would fit (the kernel does so above 65534).
    pub force_xnum: bool,
}

fn align4(v: &mut Vec<u8>) {
    while v.len() % 4 != 0 {
        v.push(0);
    }
}

pub fn note_bytes(notes: &[Note]) -> Vec<u8> {
    let mut out = Vec::new();
    for n in notes {
        let name = format!("{}\0", n.name);
        out.extend_from_slice(&(name.len() as u32).to_le_bytes());
        out.extend_from_slice(&(n.desc.len() as u32).to_le_bytes());
        out.extend_from_slice(&n.n_type.to_le_bytes());
        out.extend_from_slice(name.as_bytes());
        align4(&mut out);
        out.extend_from_slice(&n.desc);
        align4(&mut out);
    }
    out
}

impl Synth {
    pub fn core(machine: u16) -> Synth {
        Synth {
            e_type: ET_CORE,
            machine,
            entry: 0,
            loads: Vec::new(),
            notes: Vec::new(),
            force_xnum: false,
        }
    }

    pub fn build(&self) -> Vec<u8> {
        let notes = note_bytes(&self.notes);
        let has_notes = !self.notes.is_empty();
        let phnum = self.loads.len() + usize::from(has_notes);
        let xnum = self.force_xnum || phnum >= 0xffff;
        let phoff = 64u64;
        let ph_end = phoff + 56 * phnum as u64;
        let shoff = if xnum { ph_end } else { 0 };
        let mut at = if xnum { ph_end + 64 } else { ph_end };
        let notes_off = at;
        at += notes.len() as u64;
        let mut load_offsets = Vec::new();
        for l in &self.loads {
            load_offsets.push(at);
            at += l.data.len() as u64;
        }

        let mut f = Vec::with_capacity(at as usize);
        // e_ident
        f.extend_from_slice(&[0x7f, b'E', b'L', b'F', 2, 1, 1, 0]);
        f.extend_from_slice(&[0; 8]);
        f.extend_from_slice(&self.e_type.to_le_bytes());
        f.extend_from_slice(&self.machine.to_le_bytes());
        f.extend_from_slice(&1u32.to_le_bytes()); // e_version
        f.extend_from_slice(&self.entry.to_le_bytes());
        f.extend_from_slice(&phoff.to_le_bytes());
        f.extend_from_slice(&shoff.to_le_bytes());
        f.extend_from_slice(&0u32.to_le_bytes()); // e_flags
        f.extend_from_slice(&64u16.to_le_bytes()); // e_ehsize
        f.extend_from_slice(&56u16.to_le_bytes()); // e_phentsize
        let e_phnum: u16 = if xnum { 0xffff } else { phnum as u16 };
        f.extend_from_slice(&e_phnum.to_le_bytes());
        f.extend_from_slice(&64u16.to_le_bytes()); // e_shentsize
        f.extend_from_slice(&(if xnum { 1u16 } else { 0 }).to_le_bytes()); // e_shnum
        f.extend_from_slice(&0u16.to_le_bytes()); // e_shstrndx
        assert_eq!(f.len(), 64);

        let phdr = |f: &mut Vec<u8>,
                    p_type: u32,
                    flags: u32,
                    off: u64,
                    vaddr: u64,
                    filesz: u64,
                    memsz: u64,
                    align: u64| {
            f.extend_from_slice(&p_type.to_le_bytes());
            f.extend_from_slice(&flags.to_le_bytes());
            f.extend_from_slice(&off.to_le_bytes());
            f.extend_from_slice(&vaddr.to_le_bytes());
            f.extend_from_slice(&0u64.to_le_bytes());
            f.extend_from_slice(&filesz.to_le_bytes());
            f.extend_from_slice(&memsz.to_le_bytes());
            f.extend_from_slice(&align.to_le_bytes());
        };
        if has_notes {
            phdr(&mut f, PT_NOTE, 0, notes_off, 0, notes.len() as u64, 0, 4);
        }
        for (l, off) in self.loads.iter().zip(&load_offsets) {
            phdr(
                &mut f,
                PT_LOAD,
                l.flags,
                *off,
                l.vaddr,
                l.data.len() as u64,
                l.memsz,
                0x1000,
            );
        }
        if xnum {
            // Section header 0: sh_info holds the real program header count.
            let mut sh = vec![0u8; 64];
            sh[44..48].copy_from_slice(&(phnum as u32).to_le_bytes());
            f.extend_from_slice(&sh);
        }
        f.extend_from_slice(&notes);
        for l in &self.loads {
            f.extend_from_slice(&l.data);
        }
        f
    }
}

/// An x86_64 `NT_PRSTATUS` (336 bytes) for thread `tid`: registers are
/// `base + index` except rip, rsp and fs_base, which are given.
pub fn prstatus_x86_64(tid: u32, signal: u16, rip: u64, rsp: u64, fs_base: u64) -> Vec<u8> {
    let mut d = vec![0u8; 336];
    d[12..14].copy_from_slice(&signal.to_le_bytes());
    d[32..36].copy_from_slice(&tid.to_le_bytes());
    for i in 0..27u64 {
        let off = 112 + 8 * i as usize;
        d[off..off + 8].copy_from_slice(&(0x1000 + i).to_le_bytes());
    }
    d[240..248].copy_from_slice(&rip.to_le_bytes());
    d[264..272].copy_from_slice(&rsp.to_le_bytes());
    d[280..288].copy_from_slice(&fs_base.to_le_bytes());
    d
}

/// An aarch64 `NT_PRSTATUS` (392 bytes): x0..x30 = 0x2000 + n, then sp, pc, pstate.
pub fn prstatus_aarch64(tid: u32, pc: u64, sp: u64) -> Vec<u8> {
    let mut d = vec![0u8; 392];
    d[32..36].copy_from_slice(&tid.to_le_bytes());
    for i in 0..31u64 {
        let off = 112 + 8 * i as usize;
        d[off..off + 8].copy_from_slice(&(0x2000 + i).to_le_bytes());
    }
    d[360..368].copy_from_slice(&sp.to_le_bytes());
    d[368..376].copy_from_slice(&pc.to_le_bytes());
    d[376..384].copy_from_slice(&0x6000_0000u64.to_le_bytes());
    d
}

/// `NT_PRPSINFO` (136 bytes).
pub fn prpsinfo(pid: u32, fname: &str, args: &str) -> Vec<u8> {
    let mut d = vec![0u8; 136];
    d[24..28].copy_from_slice(&pid.to_le_bytes());
    d[40..40 + fname.len()].copy_from_slice(fname.as_bytes());
    d[56..56 + args.len()].copy_from_slice(args.as_bytes());
    d
}

pub fn auxv(pairs: &[(u64, u64)]) -> Vec<u8> {
    let mut d = Vec::new();
    for (k, v) in pairs.iter().chain(std::iter::once(&(0, 0))) {
        d.extend_from_slice(&k.to_le_bytes());
        d.extend_from_slice(&v.to_le_bytes());
    }
    d
}

/// `NT_FILE`: `(start, end, page offset, path)` entries.
pub fn nt_file(page_size: u64, entries: &[(u64, u64, u64, &str)]) -> Vec<u8> {
    let mut d = Vec::new();
    d.extend_from_slice(&(entries.len() as u64).to_le_bytes());
    d.extend_from_slice(&page_size.to_le_bytes());
    for (s, e, o, _) in entries {
        d.extend_from_slice(&s.to_le_bytes());
        d.extend_from_slice(&e.to_le_bytes());
        d.extend_from_slice(&o.to_le_bytes());
    }
    for (_, _, _, p) in entries {
        d.extend_from_slice(p.as_bytes());
        d.push(0);
    }
    d
}

pub fn siginfo(signo: i32, code: i32, addr: u64) -> Vec<u8> {
    let mut d = vec![0u8; 128];
    d[0..4].copy_from_slice(&signo.to_le_bytes());
    d[8..12].copy_from_slice(&code.to_le_bytes());
    d[16..24].copy_from_slice(&addr.to_le_bytes());
    d
}

pub fn write(dir: &std::path::Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}
