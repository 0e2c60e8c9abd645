//! Event types of the TCG PC Client Platform Firmware Profile (EV_* and EV_EFI_*).

macro_rules! event_types {
    ($( $(#[$doc:meta])* $name:ident = $value:expr, $text:expr; )*) => {
        /// An event type. Values the profile does not define are kept as `Unknown`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        pub enum EventType {
            $( $(#[$doc])* $name, )*
            /// Any other value (vendor, DRTM or garbage), kept as read.
            Unknown(u32),
        }

        impl EventType {
            /// From the raw u32.
            #[inline]
            pub fn from_u32(v: u32) -> Self {
                match v {
                    $( $value => Self::$name, )*
                    other => Self::Unknown(other),
                }
            }

            /// The raw u32.
            pub fn as_u32(self) -> u32 {
                match self {
                    $( Self::$name => $value, )*
                    Self::Unknown(v) => v,
                }
            }

            /// The specification's name, e.g. `EV_SEPARATOR`; `EV_UNKNOWN` for unknown values.
            pub fn name(self) -> &'static str {
                match self {
                    $( Self::$name => $text, )*
                    Self::Unknown(_) => "EV_UNKNOWN",
                }
            }
        }
    };
}

event_types! {
    /// EV_PREBOOT_CERT.
    PrebootCert = 0x0000_0000, "EV_PREBOOT_CERT";
    /// EV_POST_CODE.
    PostCode = 0x0000_0001, "EV_POST_CODE";
    /// EV_UNUSED.
    Unused = 0x0000_0002, "EV_UNUSED";
    /// EV_NO_ACTION: informational, never extended.
    NoAction = 0x0000_0003, "EV_NO_ACTION";
    /// EV_SEPARATOR.
    Separator = 0x0000_0004, "EV_SEPARATOR";
    /// EV_ACTION.
    Action = 0x0000_0005, "EV_ACTION";
    /// EV_EVENT_TAG (Windows SIPA records; Linux EFI stub tags on PCR 9).
    EventTag = 0x0000_0006, "EV_EVENT_TAG";
    /// EV_S_CRTM_CONTENTS.
    SCrtmContents = 0x0000_0007, "EV_S_CRTM_CONTENTS";
    /// EV_S_CRTM_VERSION.
    SCrtmVersion = 0x0000_0008, "EV_S_CRTM_VERSION";
    /// EV_CPU_MICROCODE.
    CpuMicrocode = 0x0000_0009, "EV_CPU_MICROCODE";
    /// EV_PLATFORM_CONFIG_FLAGS.
    PlatformConfigFlags = 0x0000_000A, "EV_PLATFORM_CONFIG_FLAGS";
    /// EV_TABLE_OF_DEVICES.
    TableOfDevices = 0x0000_000B, "EV_TABLE_OF_DEVICES";
    /// EV_COMPACT_HASH.
    CompactHash = 0x0000_000C, "EV_COMPACT_HASH";
    /// EV_IPL.
    Ipl = 0x0000_000D, "EV_IPL";
    /// EV_IPL_PARTITION_DATA.
    IplPartitionData = 0x0000_000E, "EV_IPL_PARTITION_DATA";
    /// EV_NONHOST_CODE.
    NonhostCode = 0x0000_000F, "EV_NONHOST_CODE";
    /// EV_NONHOST_CONFIG.
    NonhostConfig = 0x0000_0010, "EV_NONHOST_CONFIG";
    /// EV_NONHOST_INFO.
    NonhostInfo = 0x0000_0011, "EV_NONHOST_INFO";
    /// EV_OMIT_BOOT_DEVICE_EVENTS.
    OmitBootDeviceEvents = 0x0000_0012, "EV_OMIT_BOOT_DEVICE_EVENTS";
    /// EV_EFI_VARIABLE_DRIVER_CONFIG.
    EfiVariableDriverConfig = 0x8000_0001, "EV_EFI_VARIABLE_DRIVER_CONFIG";
    /// EV_EFI_VARIABLE_BOOT.
    EfiVariableBoot = 0x8000_0002, "EV_EFI_VARIABLE_BOOT";
    /// EV_EFI_BOOT_SERVICES_APPLICATION.
    EfiBootServicesApplication = 0x8000_0003, "EV_EFI_BOOT_SERVICES_APPLICATION";
    /// EV_EFI_BOOT_SERVICES_DRIVER.
    EfiBootServicesDriver = 0x8000_0004, "EV_EFI_BOOT_SERVICES_DRIVER";
    /// EV_EFI_RUNTIME_SERVICES_DRIVER.
    EfiRuntimeServicesDriver = 0x8000_0005, "EV_EFI_RUNTIME_SERVICES_DRIVER";
    /// EV_EFI_GPT_EVENT.
    EfiGptEvent = 0x8000_0006, "EV_EFI_GPT_EVENT";
    /// EV_EFI_ACTION.
    EfiAction = 0x8000_0007, "EV_EFI_ACTION";
    /// EV_EFI_PLATFORM_FIRMWARE_BLOB.
    EfiPlatformFirmwareBlob = 0x8000_0008, "EV_EFI_PLATFORM_FIRMWARE_BLOB";
    /// EV_EFI_HANDOFF_TABLES.
    EfiHandoffTables = 0x8000_0009, "EV_EFI_HANDOFF_TABLES";
    /// EV_EFI_PLATFORM_FIRMWARE_BLOB2.
    EfiPlatformFirmwareBlob2 = 0x8000_000A, "EV_EFI_PLATFORM_FIRMWARE_BLOB2";
    /// EV_EFI_HANDOFF_TABLES2.
    EfiHandoffTables2 = 0x8000_000B, "EV_EFI_HANDOFF_TABLES2";
    /// EV_EFI_VARIABLE_BOOT2.
    EfiVariableBoot2 = 0x8000_000C, "EV_EFI_VARIABLE_BOOT2";
    /// EV_EFI_HCRTM_EVENT.
    EfiHcrtmEvent = 0x8000_0010, "EV_EFI_HCRTM_EVENT";
    /// EV_EFI_VARIABLE_AUTHORITY.
    EfiVariableAuthority = 0x8000_00E0, "EV_EFI_VARIABLE_AUTHORITY";
    /// EV_EFI_SPDM_FIRMWARE_BLOB.
    EfiSpdmFirmwareBlob = 0x8000_00E1, "EV_EFI_SPDM_FIRMWARE_BLOB";
    /// EV_EFI_SPDM_FIRMWARE_CONFIG.
    EfiSpdmFirmwareConfig = 0x8000_00E2, "EV_EFI_SPDM_FIRMWARE_CONFIG";
}

impl core::fmt::Display for EventType {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Unknown(v) => write!(f, "EV_UNKNOWN(0x{v:08x})"),
            other => f.write_str(other.name()),
        }
    }
}
