//! The board the device is on, as far as the driver cares: its SoC, from the device tree's
//! `compatible` ("amlogic,t7"; vendor trees write "amlogic, t7"), or `$AML_JPEG_SOC` for a
//! tree that does not say. GET_DEVINFO cannot tell: every SoC from GXL on answers
//! "AML-GXTVBB". The media_modules driver reads the input with the command's strides on the
//! SoCs of the C1+ class only (docs/driver.md §8); everywhere else with the canvas geometry.

/// The SoCs whose media_modules driver takes the C1+ path (strides honoured).
const STRIDE_SOCS: [&str; 4] = ["c1", "t7", "t3", "s5"];

const COMPATIBLE: [&str; 2] = [
    "/proc/device-tree/compatible",
    "/sys/firmware/devicetree/base/compatible",
];

/// The SoC in a device tree `compatible` list (NUL-separated, most specific first, so the
/// SoC is the last "amlogic," entry: reference boards are "amlogic," too), lower case,
/// without the "meson-" of mainline names.
fn soc_in(compatible: &[u8]) -> Option<String> {
    compatible
        .split(|&b| b == 0)
        .rev()
        .filter_map(|entry| std::str::from_utf8(entry).ok())
        .find_map(|entry| entry.strip_prefix("amlogic,"))
        .map(|soc| {
            let soc = soc.trim().to_ascii_lowercase();
            soc.strip_prefix("meson-")
                .map(str::to_string)
                .unwrap_or(soc)
        })
        .filter(|soc| !soc.is_empty())
}

/// This board's SoC: `$AML_JPEG_SOC`, else the device tree's; None when neither says.
pub fn soc() -> Option<String> {
    if let Some(soc) = std::env::var("AML_JPEG_SOC")
        .ok()
        .filter(|s| !s.trim().is_empty())
    {
        return Some(soc.trim().to_ascii_lowercase());
    }
    COMPATIBLE
        .iter()
        .find_map(|path| std::fs::read(path).ok())
        .and_then(|bytes| soc_in(&bytes))
}

/// Whether the media_modules driver on `soc` honours NEW_CMD2's strides.
pub fn honours_strides(soc: Option<&str>) -> bool {
    soc.is_some_and(|s| STRIDE_SOCS.contains(&s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_soc_comes_from_the_amlogic_entry() {
        assert_eq!(
            soc_in(b"khadas,vim4\0amlogic, t7\0"),
            Some("t7".to_string())
        );
        assert_eq!(
            soc_in(b"hardkernel,odroid-c2\0amlogic,meson-gxbb\0"),
            Some("gxbb".to_string())
        );
        assert_eq!(
            soc_in(b"amlogic,s400\0amlogic,a113d\0amlogic,meson-axg\0"),
            Some("axg".to_string())
        );
        assert_eq!(soc_in(b"raspberrypi,4-model-b\0brcm,bcm2711\0"), None);
        assert_eq!(soc_in(b""), None);
        assert!(honours_strides(Some("t7")) && honours_strides(Some("c1")));
        assert!(!honours_strides(Some("sm1")) && !honours_strides(None));
    }
}
