//! The model of the `/dev/jpegenc` driver and its encoder: open/release rules, the ioctls,
//! the shared buffer, asynchronous completion, poll readiness, the cache model and faults.
//!
//! One [`Driver`] is one device. Its reserved memory is a memfd (the "physical" carve-out);
//! clients map the descriptor [`Driver::open`] hands out. Completion is signalled through an
//! eventfd in semaphore mode whose count is the driver's ready counter.

use crate::config::{Config, FaultKind, Generation, OutputSize};
use crate::hardware::{self, HwJob, NO_INPUT};
use crate::header::{self, HEADER_LEN};
use crate::hwproc::HwProcess;
use crate::input::{self, fmt};
use crate::levels::{self, Level};
use crate::memory::Memory;
use crate::stats::{self, Stats};
use crate::tables;
use parking_lot::{Condvar, Mutex};
use std::ffi::c_void;
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// An errno value.
pub type Errno = i32;

/// Declares request-number constants and `name()`, which maps a number back to its name (for
/// the stats and the log).
macro_rules! requests {
    ($($name:ident = $value:expr),* $(,)?) => {
        $(pub const $name: u32 = $value;)*

        pub fn name(request: u32) -> &'static str {
            match request {
                $($name => stringify!($name),)*
                _ => "UNKNOWN",
            }
        }
    };
}

/// E request numbers: `_IOW('E', nr, unsigned int)`, identical on ARM32 and x86_64.
pub mod e {
    requests! {
        GET_ADDR = 0x4004_4500,
        INPUT_UPDATE = 0x4004_4501,
        GET_STATUS = 0x4004_4502,
        NEW_CMD = 0x4004_4503,
        GET_STAGE = 0x4004_4504,
        GET_OUTPUT_SIZE = 0x4004_4505,
        SET_QUALTIY = 0x4004_4506,
        SET_ENCODER_WIDTH = 0x4004_4507,
        SET_ENCODER_HEIGHT = 0x4004_4508,
        CONFIG_INIT = 0x4004_4509,
        FLUSH_CACHE = 0x4004_450a,
        FLUSH_DMA = 0x4004_450b,
        GET_BUFFINFO = 0x4004_450c,
        INPUT_FORMAT = 0x4004_450d,
        SEL_QUANT_TABLE = 0x4004_450e,
        SET_EXT_QUANT_TABLE = 0x4004_450f,
        GET_DEVINFO = 0x4004_45f0,
    }
}

/// J request numbers: `_IOW('J', nr, u32)`, the same on every ABI.
pub mod j {
    requests! {
        GET_BUFFINFO = 0x4004_4a00,
        CONFIG_INIT = 0x4004_4a01,
        NEW_CMD = 0x4004_4a02,
        GET_STAGE = 0x4004_4a03,
        GET_OUTPUT_SIZE = 0x4004_4a04,
        SET_EXT_QUANT_TABLE = 0x4004_4a05,
        GET_DEVINFO = 0x4004_4af0,
    }

    /// Words NEW_CMD copies from user, whatever the client allocated.
    pub const NEW_CMD_WORDS: usize = 30;
}

/// Stage values (`encoder_status`).
pub mod stage {
    pub const IDLE: u32 = 0;
    pub const START: u32 = 1;
    pub const MCU: u32 = 3;
    pub const DONE: u32 = 4;
}

/// Driver state that lives in module statics and survives open/close (spec §3.2). It is
/// saved in a state file so it also survives from one process to the next, like the kernel's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Globals {
    width: u32,
    height: u32,
    scale: u32,
    status: u32,
    input_format: u32,
    output_format: u32,
}

impl Default for Globals {
    fn default() -> Self {
        Globals {
            width: 1280,
            height: 720,
            scale: 90,
            status: stage::IDLE,
            input_format: fmt::YUV422_SINGLE,
            output_format: fmt::YUV420,
        }
    }
}

impl Globals {
    fn encode(&self) -> String {
        format!(
            "{} {} {} {} {} {}\n",
            self.width, self.height, self.scale, self.status, self.input_format, self.output_format
        )
    }

    fn decode(text: &str) -> Option<Globals> {
        let v: Vec<u32> = text
            .split_whitespace()
            .map(|s| s.parse().ok())
            .collect::<Option<_>>()?;
        match v[..] {
            [width, height, scale, status, input_format, output_format] => Some(Globals {
                width,
                height,
                scale,
                status,
                input_format,
                output_format,
            }),
            _ => None,
        }
    }
}

fn errno() -> Errno {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

/// One open file of the device.
struct OpenFile {
    /// Semaphore eventfd: its count is `jpegenc_ready`.
    ready: OwnedFd,
    /// Holds the cross-process single-open lock.
    _lock: File,
}

/// A job handed to the hardware thread.
struct Job {
    generation: u64,
    started: Instant,
    width: u32,
    height: u32,
    input_format: u32,
    /// MFDIN output: 4:2:0 (true) or 4:2:2.
    mfdin_420: bool,
    /// Input read from here (offset into the block); None: not from the block (zeros).
    input_base: Option<usize>,
    luma: [u8; 64],
    chroma: [u8; 64],
    hang: bool,
    lost_irq: bool,
    overflow: bool,
    corrupt: bool,
    eoi: bool,
    slow: f64,
}

struct State {
    globals: Globals,
    open: Option<OpenFile>,
    inited: bool,
    /// CONFIG_INIT loaded the microcode (else no job of this open completes).
    microcode: bool,
    quant_id: i32,
    ext_table: Option<[u16; 128]>,
    /// Bumped by every NEW_CMD and release: a completion of an older job is dropped.
    generation: u64,
    /// The live VLC_TOTAL_BYTES register.
    vlc_total_bytes: u32,
    /// J: header length of the last NEW_CMD (reset at open).
    head_bytes: u32,
    /// Occurrence counters for faults.
    opens: u64,
    ioctl_counts: std::collections::HashMap<&'static str, u64>,
    /// The last accepted MFDIN setup (format, 4:2:0), reused when NEW_CMD's format is rejected.
    mfdin: (u32, bool),
    stats: Stats,
}

/// The two sides of the cache model. `live` is the reserved block as the CPU sees it (what
/// clients map); `phys` is the memory behind it as the device sees it: the input the hardware
/// reads (updated from `live` only by cleans), the output it writes (reaching `live` only by
/// invalidates), and, past the block, the guard region the E driver's oversized output window
/// reaches on levels 8M, 13M and HD (foreign memory on a board).
#[derive(Clone)]
struct Memories {
    live: Arc<Memory>,
    phys: Arc<Memory>,
}

struct Inner {
    config: Config,
    level: Option<Level>,
    memory: Mutex<Option<Memories>>,
    /// The strict output model: the CPU's cached copy of the bitstream buffer as last synced
    /// with memory (by an invalidate or a clean). Where `live` differs, the CPU wrote: a dirty
    /// line the cache may write back at any time.
    synced: Mutex<Vec<u8>>,
    state: Mutex<State>,
    /// Signalled when stage changes, for tests that wait on it.
    changed: Condvar,
    jobs: Mutex<Option<std::sync::mpsc::Sender<Job>>>,
}

/// An emulated `/dev/jpegenc` device.
#[derive(Clone)]
pub struct Driver {
    inner: Arc<Inner>,
}

impl Driver {
    pub fn new(config: Config) -> Driver {
        let level = match config.generation {
            Generation::E => levels::select(config.reserve),
            Generation::J => levels::select_j(config.reserve),
        };
        Driver {
            inner: Arc::new(Inner {
                level,
                memory: Mutex::new(None),
                synced: Mutex::new(Vec::new()),
                state: Mutex::new(State {
                    globals: Globals::default(),
                    open: None,
                    inited: false,
                    microcode: false,
                    quant_id: 0,
                    ext_table: None,
                    generation: 0,
                    vlc_total_bytes: 0,
                    head_bytes: 0,
                    opens: 0,
                    ioctl_counts: Default::default(),
                    mfdin: (fmt::YUV422_SINGLE, true),
                    stats: Stats::default(),
                }),
                changed: Condvar::new(),
                jobs: Mutex::new(None),
                config,
            }),
        }
    }

    pub fn from_env() -> Driver {
        Driver::new(Config::from_env())
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The buffer level, or None when the reserved size is too small for the probe.
    pub fn level(&self) -> Option<Level> {
        self.inner.level
    }

    fn log(&self, message: impl FnOnce() -> String) {
        if self.inner.config.log {
            eprintln!("jpegenc: {}", message());
        }
    }

    fn hazard(&self, state: &mut State, message: String) {
        state.stats.hazards += 1;
        eprintln!("jpegenc-emu: hazard: {message}");
    }

    fn state_file(&self, ext: &str) -> std::path::PathBuf {
        let key: String = self
            .inner
            .config
            .path
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        self.inner
            .config
            .state_dir
            .join(format!("jpegenc-emu{key}.{ext}"))
    }

    fn save_globals(&self, g: &Globals) {
        let _ = std::fs::write(self.state_file("state"), g.encode());
    }

    fn memories(&self) -> Result<Memories, Errno> {
        let mut slot = self.inner.memory.lock();
        if let Some(m) = &*slot {
            return Ok(m.clone());
        }
        let reserve = self.inner.config.reserve as usize;
        let window_end = self.inner.level.map_or(0, |l| {
            l.bitstream_start as usize + l.bitstream_size as usize
        });
        let m = Memories {
            live: Arc::new(Memory::new(c"jpegenc-emu", reserve)?),
            phys: Arc::new(Memory::new(c"jpegenc-emu-phys", reserve.max(window_end))?),
        };
        *slot = Some(m.clone());
        Ok(m)
    }

    fn memory(&self) -> Result<Arc<Memory>, Errno> {
        Ok(self.memories()?.live)
    }

    /// Opens the device: returns a descriptor of the reserved memory for the client to own,
    /// or an errno (ENOENT without a device, EBUSY while it is open anywhere).
    pub fn open(&self) -> Result<OwnedFd, Errno> {
        let Some(_level) = self.inner.level else {
            return Err(libc::ENOENT);
        };
        let memory = self.memory()?;
        let mut st = self.inner.state.lock();
        st.opens += 1;
        let occurrence = st.opens;
        let busy_fault = self
            .inner
            .config
            .faults
            .iter()
            .any(|f| f.kind == FaultKind::Busy && f.hits(occurrence));
        if st.open.is_some() || busy_fault {
            st.stats.busy += 1;
            self.log(|| "open: busy".into());
            return Err(libc::EBUSY);
        }
        // The single-open rule across processes: an exclusive lock held while open.
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.state_file("lock"))
            .map_err(|e| e.raw_os_error().unwrap_or(libc::EIO))?;
        // SAFETY: flock on a descriptor we own.
        if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            st.stats.busy += 1;
            self.log(|| "open: busy (held by another process)".into());
            return Err(libc::EBUSY);
        }
        // SAFETY: creating an eventfd.
        let ready = unsafe {
            libc::eventfd(
                0,
                libc::EFD_SEMAPHORE | libc::EFD_NONBLOCK | libc::EFD_CLOEXEC,
            )
        };
        if ready < 0 {
            return Err(errno());
        }
        // SAFETY: duplicating our memfd for the client.
        let client = unsafe { libc::fcntl(memory.fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 0) };
        if client < 0 {
            return Err(errno());
        }
        if let Some(g) = std::fs::read_to_string(self.state_file("state"))
            .ok()
            .and_then(|t| Globals::decode(&t))
        {
            st.globals = g;
        }
        // SAFETY: both descriptors were just created and are ours.
        st.open = Some(OpenFile {
            // SAFETY: `ready` is the eventfd created above, owned by nobody else.
            ready: unsafe { OwnedFd::from_raw_fd(ready) },
            _lock: lock,
        });
        st.quant_id = 0;
        st.ext_table = None;
        st.head_bytes = 0;
        st.stats.opens += 1;
        self.log(|| "open".into());
        // SAFETY: `client` is a fresh descriptor owned by the caller from here on.
        Ok(unsafe { OwnedFd::from_raw_fd(client) })
    }

    /// Whether the device is open (the last reference not yet gone).
    pub fn is_open(&self) -> bool {
        self.inner.state.lock().open.is_some()
    }

    /// The release of the last reference (close with no mapping left): stops the hardware,
    /// powers it off and frees the single-open slot.
    pub fn release(&self) {
        let mut st = self.inner.state.lock();
        if st.open.take().is_none() {
            return;
        }
        st.inited = false;
        st.generation += 1;
        st.quant_id = 0;
        st.ext_table = None;
        st.stats.releases += 1;
        self.save_globals(&st.globals);
        self.write_stats(&st.stats);
        self.log(|| "release".into());
    }

    /// The eventfd whose readability is the device's poll readiness, while open.
    pub fn ready_fd(&self) -> Option<RawFd> {
        self.inner
            .state
            .lock()
            .open
            .as_ref()
            .map(|o| o.ready.as_raw_fd())
    }

    /// The driver's poll: if a completion is pending, consume it and report readable.
    pub fn poll_consume(&self) -> bool {
        let mut st = self.inner.state.lock();
        st.stats.polls += 1;
        let Some(open) = &st.open else { return false };
        let mut value = 0u64;
        // SAFETY: reading 8 bytes from our nonblocking semaphore eventfd.
        let n = unsafe { libc::read(open.ready.as_raw_fd(), (&mut value as *mut u64).cast(), 8) };
        n == 8
    }

    /// Records a mapping of the client descriptor (for stats and bounds).
    pub fn note_map(&self, offset: u64, len: usize) -> Result<(), Errno> {
        let mut st = self.inner.state.lock();
        st.stats.maps += 1;
        let reserve = self.inner.config.reserve as u64;
        if offset.saturating_add(len as u64) > reserve {
            self.hazard(&mut st, format!("mmap of {len} bytes at offset {offset:#x} beyond the reserved {reserve:#x} (the real driver maps foreign physical memory)"));
            return Err(libc::EINVAL);
        }
        Ok(())
    }

    pub fn stats(&self) -> Stats {
        self.inner.state.lock().stats.clone()
    }

    fn write_stats(&self, stats: &Stats) {
        if let Some(path) = &self.inner.config.stats_path {
            let tmp = path.with_extension("tmp");
            if std::fs::write(&tmp, stats.to_json()).is_ok() {
                let _ = std::fs::rename(&tmp, path);
            }
        }
    }

    /// Counts `ns` of the client thread's CPU as the model's own (see [`Stats::model_cpu_ns`]).
    pub fn charge_cpu(&self, ns: u64) {
        self.inner.state.lock().stats.model_cpu_ns += ns;
    }

    /// Writes the stats file now (at exit).
    pub fn flush_stats(&self) {
        let st = self.inner.state.lock();
        self.write_stats(&st.stats);
    }

    /// Reads the current stage the way a test would wait on it: until `pred` holds or timeout.
    pub fn wait_stage(&self, timeout: Duration, pred: impl Fn(u32) -> bool) -> u32 {
        let deadline = Instant::now() + timeout;
        let mut st = self.inner.state.lock();
        while !pred(st.globals.status) {
            if self.inner.changed.wait_until(&mut st, deadline).timed_out() {
                break;
            }
        }
        st.globals.status
    }

    /// Handles an ioctl like the driver: `Ok(return value)` or `Err(errno)`.
    ///
    /// # Safety
    /// `arg` is used as the driver does: dereferenced directly for the commands that take a
    /// pointer. It must point to memory of the size the command uses (a NULL pointer gives
    /// EFAULT here, where the real driver would oops).
    pub unsafe fn ioctl(&self, request: u64, arg: *mut c_void) -> Result<i32, Errno> {
        let mut st = self.inner.state.lock();
        if st.open.is_none() {
            return Err(libc::EBADF);
        }
        let request = request as u32;
        let generation = self.inner.config.generation;
        let name = match generation {
            Generation::E => e::name(request),
            Generation::J => j::name(request),
        };
        *st.stats.ioctls.entry(name.to_string()).or_insert(0) += 1;
        let count = {
            let c = st.ioctl_counts.entry(name).or_insert(0);
            *c += 1;
            *c
        };
        let eperm_fault = self
            .inner
            .config
            .faults
            .iter()
            .any(|f| matches!(&f.kind, FaultKind::Eperm(n) if n == name) && f.hits(count));
        if eperm_fault {
            st.stats.eperm += 1;
            self.log(|| format!("{name}: fault: EPERM"));
            return Err(libc::EPERM);
        }
        // SAFETY: forwarded contract.
        let result = match generation {
            // SAFETY: forwarded from this function's contract.
            Generation::E => unsafe { self.ioctl_e(&mut st, request, arg) },
            // SAFETY: forwarded from this function's contract.
            Generation::J => unsafe { self.ioctl_j(&mut st, request, arg) },
        };
        if result == Err(libc::EPERM) {
            st.stats.eperm += 1;
        }
        self.log(|| format!("ioctl {name} ({request:#010x}) -> {result:?}"));
        result
    }

    /// # Safety
    /// See [`Driver::ioctl`].
    unsafe fn ioctl_e(&self, st: &mut State, request: u32, arg: *mut c_void) -> Result<i32, Errno> {
        let level = self.inner.level.expect("open implies a level");
        match request {
            // SAFETY: `arg` has the size this command uses (this function's contract).
            e::GET_ADDR => unsafe { user_write(self, st, arg, &[1u32]) },
            e::NEW_CMD => {
                // SAFETY: `arg` has the size this command uses (this function's contract).
                let cmd: [u32; 7] = unsafe { user_read(self, st, arg) }?;
                self.new_cmd_e(st, &cmd)
            }
            e::GET_STAGE => {
                st.stats.get_stage_calls += 1;
                let status = st.globals.status;
                // SAFETY: `arg` has the size this command uses (this function's contract).
                unsafe { user_write(self, st, arg, &[status]) }
            }
            e::GET_OUTPUT_SIZE => {
                if !st.inited {
                    self.hazard(
                        st,
                        "GET_OUTPUT_SIZE before CONFIG_INIT reads an unpowered register".into(),
                    );
                }
                let size = st.vlc_total_bytes;
                // SAFETY: `arg` has the size this command uses (this function's contract).
                unsafe { user_write(self, st, arg, &[size]) }
            }
            e::SET_QUALTIY => {
                // SAFETY: `arg` has the size this command uses (this function's contract).
                let [q]: [i32; 1] = unsafe { user_read(self, st, arg) }?;
                st.globals.scale = tables::quality_scale(q);
                self.save_globals(&st.globals);
                Ok(0)
            }
            e::SET_ENCODER_WIDTH | e::SET_ENCODER_HEIGHT => {
                // SAFETY: `arg` has the size this command uses (this function's contract).
                let [v]: [u32; 1] = unsafe { user_read(self, st, arg) }?;
                let is_width = request == e::SET_ENCODER_WIDTH;
                let max = if is_width {
                    level.max_width
                } else {
                    level.max_height
                };
                if v > max {
                    // Clamp-and-write-back: the stored value is left unchanged.
                    // SAFETY: `arg` has the size this command uses (this function's contract).
                    unsafe { user_write(self, st, arg, &[max]) }?;
                } else if is_width {
                    st.globals.width = v;
                } else {
                    st.globals.height = v;
                }
                self.save_globals(&st.globals);
                Ok(0)
            }
            e::CONFIG_INIT => {
                if st.inited {
                    self.hazard(st, "CONFIG_INIT twice in one open leaks an ioremap and registers the IRQ again".into());
                }
                self.power_up(st);
                st.globals.status = stage::IDLE;
                Ok(0)
            }
            e::FLUSH_CACHE | e::FLUSH_DMA => {
                // SAFETY: `arg` has the size this command uses (this function's contract).
                let [buf, start, end]: [u32; 3] = unsafe { user_read(self, st, arg) }?;
                self.flush(st, level, request == e::FLUSH_CACHE, buf, start, end);
                Ok(0)
            }
            e::GET_BUFFINFO => {
                let info = [
                    self.inner.config.reserve,
                    level.input_start,
                    level.input_size,
                    level.bitstream_start,
                    level.bitstream_size,
                ];
                // SAFETY: `arg` has the size this command uses (this function's contract).
                unsafe { user_write(self, st, arg, &info) }
            }
            e::INPUT_FORMAT => Ok(0),
            e::SEL_QUANT_TABLE => {
                // SAFETY: `arg` has the size this command uses (this function's contract).
                let [id]: [i32; 1] = unsafe { user_read(self, st, arg) }?;
                // `id < 4` passes, negatives included: an out-of-bounds table read.
                st.quant_id = if id < 4 { id } else { 0 };
                if id == 3 || id < 0 {
                    self.hazard(
                        st,
                        format!("SEL_QUANT_TABLE({id}) reads past the driver's table array"),
                    );
                }
                Ok(0)
            }
            e::SET_EXT_QUANT_TABLE => self.set_ext_table(st, arg),
            // SAFETY: `arg` has the size this command uses (this function's contract).
            e::GET_DEVINFO => unsafe { user_write_bytes(self, st, arg, b"AML-M8") },
            _ => Err(libc::EPERM),
        }
    }

    /// The J driver's ioctls (spec jpegenc-j-generation.md §2): copy_to/from_user throughout,
    /// so a bad pointer fails (-1/EPERM) rather than oopsing.
    ///
    /// # Safety
    /// See [`Driver::ioctl`].
    unsafe fn ioctl_j(&self, st: &mut State, request: u32, arg: *mut c_void) -> Result<i32, Errno> {
        let level = self.inner.level.expect("open implies a level");
        let put = |st: &mut State, words: &[u32]| {
            if arg.is_null() {
                self.hazard(st, "NULL user pointer (copy_to_user fails)".into());
                return Err(libc::EPERM);
            }
            // SAFETY: the caller guarantees room for the words at `arg` (copy_to_user).
            unsafe { std::ptr::copy_nonoverlapping(words.as_ptr(), arg.cast(), words.len()) };
            Ok(0)
        };
        match request {
            j::GET_DEVINFO => {
                let id = self.inner.config.devinfo.as_bytes();
                if arg.is_null() {
                    return Err(libc::EPERM);
                }
                // SAFETY: as above; no NUL is written.
                unsafe { std::ptr::copy_nonoverlapping(id.as_ptr(), arg.cast(), id.len()) };
                Ok(0)
            }
            j::GET_BUFFINFO => {
                let assist = levels::j_assist_start(&level);
                let info = [
                    self.inner.config.reserve,
                    level.input_start,
                    level.input_size,
                    assist,
                    levels::J_ASSIST_SIZE,
                    level.bitstream_start,
                    level.bitstream_size,
                ];
                put(st, &info)
            }
            j::CONFIG_INIT => {
                if st.inited {
                    self.hazard(
                        st,
                        "CONFIG_INIT twice reloads the microcode and leaks an IRQ action".into(),
                    );
                }
                self.power_up(st);
                Ok(0)
            }
            j::NEW_CMD => {
                let mut cmd = [0u32; j::NEW_CMD_WORDS];
                if !copy_from_user(arg, &mut cmd) {
                    return Err(libc::EPERM);
                }
                self.new_cmd_j(st, level, &cmd)
            }
            j::GET_STAGE => {
                st.stats.get_stage_calls += 1;
                let status = st.globals.status;
                put(st, &[status])
            }
            j::GET_OUTPUT_SIZE => {
                // Invalidates the CPU's view of [bitstream start, + output size) first.
                let size = st.vlc_total_bytes as usize;
                self.invalidate(level.bitstream_start as usize, 0, size);
                let sizes = [st.head_bytes, st.vlc_total_bytes];
                put(st, &sizes)
            }
            // The external table is compiled out of the J driver.
            j::SET_EXT_QUANT_TABLE => Ok(0),
            _ => Err(libc::EPERM),
        }
    }

    fn new_cmd_j(
        &self,
        st: &mut State,
        level: Level,
        cmd: &[u32; j::NEW_CMD_WORDS],
    ) -> Result<i32, Errno> {
        st.stats.new_cmds += 1;
        let occurrence = st.stats.new_cmds;
        let [mem_type, in_fmt, out_fmt, width, height, framesize, _src, quality, table, flush] = [
            cmd[0], cmd[1], cmd[2], cmd[3], cmd[4], cmd[5], cmd[6], cmd[7], cmd[8], cmd[9],
        ];
        if !st.inited {
            // K programs an unpowered block with no IRQ handler: nothing ever completes.
            self.hazard(st, "NEW_CMD before CONFIG_INIT never completes".into());
            return Ok(0);
        }
        if width > level.max_width || height > level.max_height {
            self.hazard(st, format!("{width}x{height} exceeds the level: the command is dropped and never completes"));
            return Ok(0);
        }
        let mut input_format = in_fmt;
        if input::accepted(in_fmt) {
            st.mfdin = (in_fmt, out_fmt != fmt::YUV422_SINGLE);
            if in_fmt == fmt::YUV420 {
                // Canvas +1 is never configured: U is read through whatever it held (the model: V).
                self.hazard(
                    st,
                    "I420 input on the J canvas path reads U through an unconfigured canvas".into(),
                );
                input_format = fmt::YUV420_U_FROM_V;
            }
        } else {
            self.hazard(
                st,
                format!(
                    "input format {in_fmt} is rejected; the job runs with the stale MFDIN setup"
                ),
            );
            input_format = st.mfdin.0;
        }
        st.globals.width = width;
        st.globals.height = height;
        st.globals.output_format = out_fmt;
        st.globals.scale = tables::quality_scale(quality as i32);
        st.quant_id = if table < 4 { table as i32 } else { 0 };
        let input_base = if mem_type == 0 {
            if flush & 1 != 0 {
                st.stats.flush_bytes += framesize as u64;
                self.clean_input(level, 0, framesize as usize);
            }
            Some(level.input_start as usize)
        } else {
            self.hazard(
                st,
                format!("memory type {mem_type} is not reachable from userspace in the model"),
            );
            None
        };
        let (luma, chroma) = self.job_tables(st);
        let head = header::build(width, height, out_fmt, &luma, &chroma);
        let coherent = self.inner.config.j_header_coherent;
        self.write_header(levels::j_assist_start(&level) as usize, &head, coherent)?;
        st.head_bytes = HEADER_LEN as u32;
        // The stage is not reset (it stays 4 after the first completion ever).
        let mfdin_420 = st.mfdin.1;
        let job = self.next_job(st, occurrence);
        self.start_job(Job {
            width,
            height,
            input_format,
            mfdin_420,
            input_base,
            luma,
            chroma,
            ..job
        });
        Ok(0)
    }

    /// CONFIG_INIT: power-up, then the microcode by DMA; a load that fails (fault
    /// `no-microcode`) waits out the DMA's second and still returns 0, as the driver does.
    fn power_up(&self, st: &mut State) {
        std::thread::sleep(self.inner.config.init_delay);
        let occurrence = st.ioctl_counts.get("CONFIG_INIT").copied().unwrap_or(0);
        let fails = self
            .inner
            .config
            .faults
            .iter()
            .any(|f| f.kind == FaultKind::NoMicrocode && f.hits(occurrence));
        if fails {
            self.log(|| "CONFIG_INIT: microcode load failed (fault); returning 0".into());
            std::thread::sleep(Duration::from_secs(1));
        }
        st.microcode = !fails;
        st.inited = true;
    }

    fn set_ext_table(&self, st: &mut State, arg: *mut c_void) -> Result<i32, Errno> {
        if arg.is_null() {
            st.ext_table = None;
            return Ok(0);
        }
        if st.ext_table.is_some() {
            self.hazard(
                st,
                "SET_EXT_QUANT_TABLE again without clearing leaks the previous table".into(),
            );
        }
        // copy_from_user: a bad pointer fails with -1/EPERM rather than oopsing.
        let mut table = [0u16; 128];
        if !copy_from_user(arg, &mut table) {
            return Err(libc::EPERM);
        }
        st.ext_table = Some(table);
        Ok(0)
    }

    fn flush(&self, st: &mut State, level: Level, clean: bool, buf: u32, start: u32, end: u32) {
        if !st.inited {
            self.hazard(
                st,
                "FLUSH before CONFIG_INIT uses base addresses not yet computed".into(),
            );
            return;
        }
        if end < start {
            self.hazard(
                st,
                format!("FLUSH end {end:#x} < start {start:#x}: the driver would sync about 4 GiB"),
            );
            return;
        }
        st.stats.flush_bytes += (end - start) as u64;
        let (start, end) = (start as usize, end as usize);
        match (clean, buf == 1) {
            (true, false) => self.clean_input(level, start, end),
            (false, false) => self.invalidate(level.input_start as usize, start, end),
            (true, true) => self.clean_output(start, end),
            (false, true) => self.invalidate(level.bitstream_start as usize, start, end),
        }
    }

    /// The driver writes the header: into memory and, when the CPU's view of it is coherent
    /// (or the output cache is not modelled), into that view too.
    fn write_header(&self, at: usize, head: &[u8], cpu_sees_it: bool) -> Result<(), Errno> {
        let m = self.memories()?;
        m.phys.write(at, head);
        if cpu_sees_it || !self.inner.config.strict_output_cache {
            m.live.write(at, head);
        }
        Ok(())
    }

    /// CPU→device clean of `[start, end)` of the input area: the hardware sees those bytes now.
    fn clean_input(&self, level: Level, start: usize, end: usize) {
        if !self.inner.config.strict_cache {
            return;
        }
        let Ok(m) = self.memories() else { return };
        let at = level.input_start as usize + start;
        m.phys.copy_from(at, &m.live, at, end.saturating_sub(start));
    }

    /// The real bitstream buffer (absolute offsets): the level's, as far as the block holds it.
    fn bitstream_area(&self) -> std::ops::Range<usize> {
        let level = self.inner.level.expect("open implies a level");
        let start = level.bitstream_start as usize;
        let end = (start + level.bitstream_size as usize).min(self.inner.config.reserve as usize);
        start..end
    }

    /// `synced` sized to the bitstream buffer (it starts as zeros, like both memories).
    fn synced(&self) -> parking_lot::MutexGuard<'_, Vec<u8>> {
        let mut synced = self.inner.synced.lock();
        let len = self.bitstream_area().len();
        if synced.len() != len {
            synced.resize(len, 0);
        }
        synced
    }

    /// Device→CPU invalidate of `[start, end)` from `base`: the CPU's lines there are dropped
    /// (a dirty one loses what the CPU wrote) and its next reads come from memory.
    fn invalidate(&self, base: usize, start: usize, end: usize) {
        if !self.inner.config.strict_output_cache {
            return;
        }
        let Ok(m) = self.memories() else { return };
        let (from, to) = (base + start, (base + end).min(m.live.len()));
        if from >= to {
            return;
        }
        let mut fresh = vec![0u8; to - from];
        m.phys.read(from, &mut fresh);
        m.live.write(from, &fresh);
        let area = self.bitstream_area();
        let (a, b) = (from.max(area.start), to.min(area.end));
        if a < b {
            self.synced()[a - area.start..b - area.start]
                .copy_from_slice(&fresh[a - from..b - from]);
        }
    }

    /// CPU→device clean of `[start, end)` of the bitstream buffer: what the CPU wrote there
    /// reaches memory now, and its lines are clean.
    fn clean_output(&self, start: usize, end: usize) {
        if !self.inner.config.strict_output_cache {
            return;
        }
        let Ok(m) = self.memories() else { return };
        let area = self.bitstream_area();
        let (from, to) = (area.start + start, (area.start + end).min(area.end));
        if from >= to {
            return;
        }
        let mut bytes = vec![0u8; to - from];
        m.live.read(from, &mut bytes);
        m.phys.write(from, &bytes);
        self.synced()[from - area.start..to - area.start].copy_from_slice(&bytes);
    }

    /// What the CPU wrote into the bitstream buffer up to `end` (where the hardware just
    /// wrote) and never cleaned: dirty lines the cache may write back at any time, so the
    /// model writes them back over the new output (absolute offsets). They are clean from here.
    fn take_dirty(&self, st: &mut State, end: usize) -> Vec<(usize, Vec<u8>)> {
        if !self.inner.config.strict_output_cache {
            return Vec::new();
        }
        let Ok(m) = self.memories() else {
            return Vec::new();
        };
        let area = self.bitstream_area();
        let area = area.start..end.clamp(area.start, area.end);
        let mut cpu = vec![0u8; area.len()];
        m.live.read(area.start, &mut cpu);
        let mut all = self.synced();
        let synced = &mut all[..area.len()];
        if cpu == *synced {
            return Vec::new();
        }
        const LINE: usize = 64;
        let mut dirty: Vec<(usize, Vec<u8>)> = Vec::new();
        for (line, (ours, theirs)) in cpu.chunks(LINE).zip(synced.chunks(LINE)).enumerate() {
            if ours == theirs {
                continue;
            }
            let at = area.start + line * LINE;
            match dirty.last_mut() {
                Some((start, bytes)) if *start + bytes.len() == at => bytes.extend_from_slice(ours),
                _ => dirty.push((at, ours.to_vec())),
            }
        }
        synced.copy_from_slice(&cpu);
        drop(all);
        let bytes: usize = dirty.iter().map(|d| d.1.len()).sum();
        let first = dirty[0].0 - area.start;
        self.hazard(
            st,
            format!(
                "{bytes} bytes of the bitstream buffer written by the CPU and never cleaned \
                 (first at offset {first:#x}): their dirty cache lines are written back over \
                 the new output"
            ),
        );
        st.stats.writeback_bytes += bytes as u64;
        dirty
    }

    /// The skeleton of the next job: a new generation (an older job's completion is dropped),
    /// its start time, and the faults this occurrence of NEW_CMD draws. The caller fills in
    /// what to encode.
    fn next_job(&self, st: &mut State, occurrence: u64) -> Job {
        st.generation += 1;
        let mut job = Job {
            generation: st.generation,
            started: Instant::now(),
            width: 0,
            height: 0,
            input_format: 0,
            mfdin_420: true,
            input_base: None,
            luma: [0; 64],
            chroma: [0; 64],
            // Without microcode the block never runs the job.
            hang: !st.microcode,
            lost_irq: false,
            overflow: false,
            corrupt: false,
            eoi: self.inner.config.eoi,
            slow: 1.0,
        };
        for f in self
            .inner
            .config
            .faults
            .iter()
            .filter(|f| f.hits(occurrence))
        {
            match f.kind {
                FaultKind::Hang => job.hang = true,
                FaultKind::LostIrq => job.lost_irq = true,
                FaultKind::Overflow => job.overflow = true,
                FaultKind::Corrupt => job.corrupt = true,
                FaultKind::NoEoi => job.eoi = false,
                FaultKind::Slow(s) => job.slow *= s,
                FaultKind::Busy | FaultKind::Eperm(_) | FaultKind::NoMicrocode => {}
            }
        }
        job
    }

    /// The quantisation tables (natural order) the next job uses.
    fn job_tables(&self, st: &State) -> ([u8; 64], [u8; 64]) {
        let (luma, chroma) = match &st.ext_table {
            Some(t) => (
                std::array::from_fn(|i| t[i]),
                std::array::from_fn(|i| t[64 + i]),
            ),
            None => tables::base_tables(st.quant_id),
        };
        (
            tables::scale_table(&luma, st.globals.scale),
            tables::scale_table(&chroma, st.globals.scale),
        )
    }

    fn new_cmd_e(&self, st: &mut State, cmd: &[u32; 7]) -> Result<i32, Errno> {
        let level = self.inner.level.expect("open implies a level");
        st.stats.new_cmds += 1;
        let occurrence = st.stats.new_cmds;
        if !st.inited {
            self.hazard(st, "NEW_CMD before CONFIG_INIT: the driver writes the header through a NULL pointer (oops)".into());
            return Err(libc::EFAULT);
        }
        let [mem_type, in_fmt, out_fmt, _input, offset, size, need_flush] = *cmd;
        // A rejected format stops set_jpeg_input_format before it stores anything: the job runs
        // with the previous MFDIN setup and output format, and the ioctl still returns 0.
        if input::accepted(in_fmt) {
            st.globals.input_format = in_fmt;
            st.globals.output_format = out_fmt;
            st.mfdin = (in_fmt, out_fmt != fmt::YUV422_SINGLE);
            if !matches!(
                out_fmt,
                fmt::YUV420 | fmt::NV12 | fmt::NV21 | fmt::YUV422_SINGLE
            ) {
                self.hazard(st, format!("output format {} ({out_fmt}) has no working MFDIN mode: the JPEG is broken", fmt::name(out_fmt)));
            }
            if matches!(in_fmt, fmt::RGBA8888) {
                self.hazard(
                    st,
                    "RGBA8888 takes the linear path with 3 bytes per pixel: the image is skewed"
                        .into(),
                );
            }
        } else {
            self.hazard(
                st,
                format!(
                    "input format {in_fmt} is rejected; the job runs with the stale MFDIN setup"
                ),
            );
        }
        let input_base = if mem_type == 0 {
            if need_flush & 0xFF != 0 {
                st.stats.flush_bytes += size as u64;
                self.clean_input(level, offset as usize, offset as usize + size as usize);
            }
            if offset % 8 != 0 {
                self.hazard(st, format!("input offset {offset:#x} is not 8-byte aligned (canvas addresses round up)"));
            }
            st.stats.offset_jobs += (offset != 0) as u64;
            Some(level.input_start as usize + offset as usize)
        } else {
            self.hazard(st, format!("memory type {mem_type} (CANVAS/PHYSICAL) is not reachable from userspace in the model; the hardware reads foreign memory"));
            None
        };
        let (luma, chroma) = self.job_tables(st);
        let g = st.globals;
        let head = header::build(g.width, g.height, g.output_format, &luma, &chroma);
        // Written through the kernel's uncached alias: into memory, past the CPU's cache.
        self.write_header(level.bitstream_start as usize, &head, false)?;
        st.globals.status = stage::IDLE;
        st.vlc_total_bytes = 0;
        let (input_format, mfdin_420) = st.mfdin;
        let mut job = self.next_job(st, occurrence);
        if input::align(g.height as usize, 16) >= 4096 {
            self.hazard(st, format!("a padded height of {} overflows MFDIN's 12-bit size field: the hardware reads a garbled geometry", input::align(g.height as usize, 16)));
            job.corrupt = true;
        }
        self.start_job(Job {
            width: g.width,
            height: g.height,
            input_format,
            mfdin_420,
            input_base,
            luma,
            chroma,
            ..job
        });
        self.inner.changed.notify_all();
        Ok(0)
    }

    fn start_job(&self, job: Job) {
        let mut jobs = self.inner.jobs.lock();
        let sender = jobs.get_or_insert_with(|| {
            let (tx, rx) = std::sync::mpsc::channel::<Job>();
            let weak = Arc::downgrade(&self.inner);
            // The encoder runs in its own process when the helper is there (the client's CPU
            // time is then its own, as on the board), else on this thread.
            let mut process = self.inner.config.encoder_process.as_ref().and_then(|helper| {
                let m = self.memories().ok()?;
                HwProcess::spawn(helper, &m.live, &m.phys)
                    .map_err(|e| eprintln!("jpegenc-emu: cannot start {}: {e}; encoding in-process", helper.display()))
                    .ok()
            });
            std::thread::Builder::new()
                .name("jpegenc-hw".into())
                .spawn(move || {
                    while let Ok(job) = rx.recv() {
                        let Some(inner) = weak.upgrade() else { break };
                        // A bug in the model must not stop the hardware thread for good.
                        let run = std::panic::AssertUnwindSafe(|| Driver { inner }.run_job(job, &mut process));

                        if std::panic::catch_unwind(run).is_err() {
                            eprintln!("jpegenc-emu: internal error in the encoder model; the job never completes");
                        }
                    }
                })
                .expect("spawn the hardware thread");
            tx
        });
        let _ = sender.send(job);
    }

    /// Sets the stage as the ISR would on a mailbox interrupt, if the job is still current.
    fn interrupt(&self, generation: u64, value: u32) -> bool {
        let mut st = self.inner.state.lock();
        if st.generation != generation || st.open.is_none() {
            return false;
        }
        st.globals.status = value;
        self.inner.changed.notify_all();
        true
    }

    /// The encoder hardware: read the input, encode, take the modelled time, then complete.
    fn run_job(&self, job: Job, process: &mut Option<HwProcess>) {
        let cpu0 = stats::thread_cpu_ns();
        let cfg = &self.inner.config;
        let level = self.inner.level.expect("jobs imply a level");
        if cfg.stages_visible
            && cfg.generation == Generation::E
            && !self.interrupt(job.generation, stage::START)
        {
            return;
        }
        let (w, h) = (job.width as usize, job.height as usize);
        let (pw, ph) = (input::align(w, 16), input::align(h, 16));
        let Ok(memories) = self.memories() else {
            return;
        };
        // The VLC's window is what the driver programs (64 MiB on E's 8M/13M/HD levels, past
        // the block); the real buffer ends with the block.
        let window = level.bitstream_size as usize;
        let block_end = cfg.reserve as usize;
        let hw_job = HwJob {
            generation: job.generation,
            width: job.width,
            height: job.height,
            input_format: job.input_format,
            mfdin_420: job.mfdin_420 as u32,
            input_base: job.input_base.map_or(NO_INPUT, |b| b as u64),
            coherent_output: !cfg.strict_output_cache as u64,
            strict_cache: cfg.strict_cache as u32,
            corrupt: job.corrupt as u32,
            eoi: job.eoi as u32,
            // E: the VLC writes after the header in the bitstream buffer; J: from its start.
            vlc_start: match cfg.generation {
                Generation::E => level.bitstream_start as usize + HEADER_LEN,
                Generation::J => level.bitstream_start as usize,
            } as u64,
            room: match cfg.generation {
                Generation::E => window - HEADER_LEN,
                Generation::J => window,
            } as u64,
            luma: job.luma,
            chroma: job.chroma,
        };
        let result = match process.as_mut().map(|p| p.run(&hw_job)) {
            Some(Ok(r)) => r,
            Some(Err(e)) => {
                eprintln!("jpegenc-emu: the encoder process failed ({e}); encoding in-process from now on");
                *process = None;
                hardware::run(&hw_job, &memories.live, &memories.phys)
            }
            None => hardware::run(&hw_job, &memories.live, &memories.phys),
        };

        let (payload_len, stale) = (result.payload_len as usize, result.stale != 0);
        let written_end = hw_job.vlc_start as usize + payload_len.min(hw_job.room as usize);
        if cfg.stages_visible
            && cfg.generation == Generation::E
            && !self.interrupt(job.generation, stage::MCU)
        {
            return;
        }
        if job.hang {
            self.log(|| "job hangs (fault)".into());
            return;
        }
        let modelled = cfg.job_time(pw * ph).mul_f64(job.slow);
        let done_at = job.started + modelled;
        let now = Instant::now();
        let late = done_at < now && !modelled.is_zero();
        if done_at > now {
            std::thread::sleep(done_at - now);
        }
        let mut st = self.inner.state.lock();
        if st.generation != job.generation || st.open.is_none() {
            return;
        }
        // The CPU's dirty lines where the hardware just wrote reach memory after it, over it.
        for (at, bytes) in self.take_dirty(&mut st, written_end) {
            memories.phys.write(at, &bytes);
        }
        st.stats.late_completions += late as u64;
        st.stats.job_time_us += job.started.elapsed().as_micros() as u64;
        if written_end > block_end {
            self.hazard(
                &mut st,
                format!(
                    "the hardware wrote {} bytes past the reserved block (an output of {payload_len} \
                     bytes in a {window}-byte window): foreign memory on a board",
                    written_end - block_end
                ),
            );
        }
        let mut produced = payload_len as u32;
        if job.overflow {
            produced = hw_job.room as u32 + 4096;
        }
        st.vlc_total_bytes = match (cfg.generation, cfg.output_size) {
            (Generation::E, OutputSize::Total) => produced + HEADER_LEN as u32,
            _ => produced,
        };

        st.globals.status = stage::DONE;
        if stale {
            st.stats.stale_input_jobs += 1;
        }
        st.stats.completions += 1;
        if !job.lost_irq {
            if let Some(open) = &st.open {
                let one = 1u64;
                // SAFETY: writing 8 bytes to our eventfd.
                unsafe { libc::write(open.ready.as_raw_fd(), (&one as *const u64).cast(), 8) };
            }
        }
        self.inner.changed.notify_all();
        self.save_globals(&st.globals);
        st.stats.model_cpu_ns += stats::thread_cpu_ns().saturating_sub(cpu0);
        self.write_stats(&st.stats);
        self.log(|| format!("job done: {payload_len} bytes"));
    }
}

/// Reads `N` values through a user pointer, as the driver's direct dereference does.
///
/// # Safety
/// `arg` must be NULL or point to `N` readable values.
unsafe fn user_read<T: Copy + Default, const N: usize>(
    d: &Driver,
    st: &mut State,
    arg: *mut c_void,
) -> Result<[T; N], Errno> {
    if arg.is_null() {
        d.hazard(st, "NULL user pointer: the driver would oops".into());
        return Err(libc::EFAULT);
    }
    let mut out = [T::default(); N];
    // SAFETY: the caller guarantees N readable values at `arg`.
    unsafe { std::ptr::copy_nonoverlapping(arg as *const T, out.as_mut_ptr(), N) };
    Ok(out)
}

/// Writes values through a user pointer.
///
/// # Safety
/// `arg` must be NULL or point to room for `values`.
unsafe fn user_write<T: Copy>(
    d: &Driver,
    st: &mut State,
    arg: *mut c_void,
    values: &[T],
) -> Result<i32, Errno> {
    if arg.is_null() {
        d.hazard(st, "NULL user pointer: the driver would oops".into());
        return Err(libc::EFAULT);
    }
    // SAFETY: the caller guarantees room for `values` at `arg`.
    unsafe { std::ptr::copy_nonoverlapping(values.as_ptr(), arg as *mut T, values.len()) };
    Ok(0)
}

/// Writes bytes (no NUL) through a user pointer.
///
/// # Safety
/// As [`user_write`].
unsafe fn user_write_bytes(
    d: &Driver,
    st: &mut State,
    arg: *mut c_void,
    bytes: &[u8],
) -> Result<i32, Errno> {
    // SAFETY: forwarded.
    unsafe { user_write(d, st, arg, bytes) }
}

/// copy_from_user: the bytes pass through a pipe, so the kernel checks the pointer and a bad
/// one fails with EFAULT instead of faulting this process (qemu-user checks it the same way).
fn copy_from_user<T: Copy>(src: *const c_void, out: &mut [T]) -> bool {
    let len = std::mem::size_of_val(out);
    let mut fds = [0; 2];
    // SAFETY: a pipe into a two-int array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return false;
    }
    // SAFETY: the kernel validates `src`; `out` is writable for `len` bytes; both fds are ours.
    let ok = unsafe {
        libc::write(fds[1], src, len) == len as isize
            && libc::read(fds[0], out.as_mut_ptr().cast(), len) == len as isize
    };
    // SAFETY: closing the pipe we made.
    unsafe {
        libc::close(fds[0]);
        libc::close(fds[1]);
    }
    ok
}
