//! The model of the `/dev/jpegenc` driver and its encoder: open/release rules, the ioctls,
//! the shared buffer, asynchronous completion, poll readiness, the cache model and faults.
//!
//! One [`Driver`] is one device. Its reserved memory is a memfd (the "physical" carve-out);
//! clients map the descriptor [`Driver::open`] hands out. Completion is signalled through an
//! eventfd in semaphore mode whose count is the driver's ready counter.

use crate::config::{Config, FaultKind, Generation};
use crate::input::fmt;
use crate::levels::{self, Level};
use crate::memory::Memory;
use crate::stats::Stats;
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

mod cache;
pub mod e;
mod globals_file;
pub mod j;
mod job;
mod user;

use globals_file::GlobalsFile;
use job::Job;

/// Stage values (`encoder_status`).
pub mod stage {
    pub const IDLE: u32 = 0;
    pub const START: u32 = 1;
    pub const MCU: u32 = 3;
    pub const DONE: u32 = 4;
}

/// Driver state that lives in module statics and survives open/close (docs/driver.md §4). It is
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
    fn words(&self) -> [u32; globals_file::WORDS] {
        [
            self.width,
            self.height,
            self.scale,
            self.status,
            self.input_format,
            self.output_format,
        ]
    }

    fn from_words(w: [u32; globals_file::WORDS]) -> Globals {
        let [width, height, scale, status, input_format, output_format] = w;
        Globals {
            width,
            height,
            scale,
            status,
            input_format,
            output_format,
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
    /// MM: the dma-buf CONFIG_DMA_INPUT imported (the driver's reference to it).
    dma: Option<Arc<Memory>>,
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
    /// The stats file, opened at the first write, and how many bytes it holds.
    stats_file: Mutex<Option<(File, usize)>>,
    /// The globals' persistent copy, mapped at first use (None: it could not be made).
    globals_file: std::sync::OnceLock<Option<GlobalsFile>>,
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
                    dma: None,
                    stats: Stats::default(),
                }),
                changed: Condvar::new(),
                jobs: Mutex::new(None),
                globals_file: std::sync::OnceLock::new(),
                stats_file: Mutex::new(None),
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

    fn globals_file(&self) -> Option<&GlobalsFile> {
        self.inner
            .globals_file
            .get_or_init(|| {
                GlobalsFile::open(&self.state_file("state"))
                    .map_err(|e| eprintln!("jpegenc-emu: cannot map the globals' file: {e}"))
                    .ok()
            })
            .as_ref()
    }

    fn save_globals(&self, g: &Globals) {
        if let Some(file) = self.globals_file() {
            file.store(g.words());
        }
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
        let fault = |kind: FaultKind| {
            self.inner
                .config
                .faults
                .iter()
                .any(|f| f.kind == kind && f.hits(occurrence))
        };
        if fault(FaultKind::Denied) {
            self.log(|| "open: permission denied".into());
            return Err(libc::EACCES);
        }
        let busy_fault = fault(FaultKind::Busy);
        if st.open.is_none()
            && !busy_fault
            && self.inner.config.generation == Generation::J
            && fault(FaultKind::NoMemory)
        {
            self.log(|| "open: no CMA / codec_mm memory for the buffer".into());
            return Err(libc::ENOMEM);
        }
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
        if let Some(g) = self
            .globals_file()
            .and_then(GlobalsFile::load)
            .map(Globals::from_words)
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
        st.dma = None;
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

    /// The emulated board's device tree `compatible` (see [`Config::compatible`]).
    pub fn compatible(&self) -> Vec<u8> {
        self.inner.config.compatible()
    }

    /// Records a mapping of the client descriptor (for stats and bounds).
    pub fn note_map(&self, offset: u64, len: usize) -> Result<(), Errno> {
        let mut st = self.inner.state.lock();
        st.stats.maps += 1;
        let reserve = self.inner.config.reserve as u64;
        let beyond = offset.saturating_add(len as u64) > reserve;
        if beyond && self.inner.config.mm {
            // MM checks the bounds (73e467dc).
            return Err(libc::EAGAIN);
        }
        if beyond {
            self.hazard(&mut st, format!("mmap of {len} bytes at offset {offset:#x} beyond the reserved {reserve:#x} (the real driver maps foreign physical memory)"));
            return Err(libc::EINVAL);
        }
        Ok(())
    }

    pub fn stats(&self) -> Stats {
        self.inner.state.lock().stats.clone()
    }

    /// Writes `stats` to the stats file (the caller holds the state lock, so snapshots land
    /// in order).
    ///
    /// One write over the file in place, padded with spaces to the file's length (a JSON
    /// reader skips them): replacing the file by a rename made ext4 flush it first, a quarter
    /// of a millisecond on every completion.
    fn write_stats(&self, stats: &Stats) {
        use std::os::unix::fs::FileExt;
        let Some(path) = &self.inner.config.stats_path else {
            return;
        };
        let mut slot = self.inner.stats_file.lock();
        if slot.is_none() {
            // What an earlier process left there is as long as the file (measured once).
            *slot = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(path)
                .map(|file| {
                    let held = file.metadata().map_or(0, |m| m.len() as usize);
                    (file, held)
                })
                .map_err(|e| eprintln!("jpegenc-emu: cannot write {}: {e}", path.display()))
                .ok();
        }
        let Some((file, held)) = slot.as_mut() else {
            return;
        };
        let mut json = stats.to_json().into_bytes();
        json.resize(json.len().max(*held), b' ');
        if file.write_all_at(&json, 0).is_ok() {
            *held = json.len();
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

    /// The driver's name for `request` ("UNKNOWN" when it has none).
    fn request_name(&self, request: u32) -> &'static str {
        match self.inner.config.generation {
            Generation::E => e::name(request),
            Generation::J => j::name(request),
        }
    }

    /// Whether `request` does work a syscall's own cost does not cover in the kernel: starts a
    /// job, maintains caches, powers up, copies from user memory or imports a buffer. The
    /// others set or read a global; their cost is the caller's system call on a board.
    pub fn is_heavy(&self, request: u64) -> bool {
        let generation = self.inner.config.generation;
        let light = match self.request_name(request as u32) {
            // J's invalidates the CPU's view of the output.
            "GET_OUTPUT_SIZE" => generation == Generation::E,
            // Copies the table from user memory.
            "SET_EXT_QUANT_TABLE" => false,
            n => {
                n.starts_with("GET_")
                    || n.starts_with("SET_")
                    || matches!(n, "SEL_QUANT_TABLE" | "INPUT_FORMAT" | "QUERY_DMA_SUPPORT")
            }
        };
        !light
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
        let name = self.request_name(request);
        *st.stats.ioctls.entry(name).or_insert(0) += 1;
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
}
