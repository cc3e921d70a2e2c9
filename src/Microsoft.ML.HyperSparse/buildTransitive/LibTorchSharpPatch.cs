// Makes TorchSharp 0.107's libLibTorchSharp.so loadable on systems whose libstdc++ predates GCC 13 (Debian 12).
//
// The library asks for symbol version GLIBCXX_3.4.32, whose only symbol is std::ios_base_library_init(), a link-time
// marker nothing calls. Marking that version requirement weak (VER_FLG_WEAK in its Vernaux entry) lets glibc load the
// library against an older libstdc++. The edit is two bytes, idempotent, and applied only when the system libstdc++
// lacks the version.
//
// This one file serves twice: compiled into the library (HYPERSPARSE_LIBRARY defined) as the runtime guard, and compiled
// by MSBuild's RoslynCodeTaskFactory (buildTransitive/HyperSparse.MLNet.targets) as a build step that patches
// the copy in a project's output folder. It must therefore need nothing beyond the base class library.
#nullable enable
using System;
using System.IO;
using System.Text;

namespace Microsoft.ML.HyperSparse.Engine.Native
{
    /// <summary>What <see cref="LibTorchSharpPatch.Apply"/> did to a file.</summary>
    internal enum PatchOutcome
    {
        /// <summary>The file had a strong GLIBCXX_3.4.32 requirement; it is now weak.</summary>
        Patched,
        /// <summary>The requirement was already weak (patched before).</summary>
        AlreadyPatched,
        /// <summary>The file does not require GLIBCXX_3.4.32 (another TorchSharp build).</summary>
        NotNeeded,
    }

    internal static class LibTorchSharpPatch
    {
        internal const string FileName = "libLibTorchSharp.so";
        internal const string MissingVersion = "GLIBCXX_3.4.32";

        private const uint ShtGnuVerneed = 0x6ffffffe;
        private const ushort VerFlgWeak = 0x2;

        private static readonly string[] LibStdCxxCandidates =
        {
            "/usr/lib/x86_64-linux-gnu/libstdc++.so.6",
            "/lib/x86_64-linux-gnu/libstdc++.so.6",
            "/usr/lib/aarch64-linux-gnu/libstdc++.so.6",
            "/usr/lib64/libstdc++.so.6",
            "/usr/lib/libstdc++.so.6",
        };

        /// <summary>
        /// True when this is Linux and the system libstdc++ does not define <see cref="MissingVersion"/>.
        /// When no libstdc++ is found the answer is false: nothing is patched on a system we cannot read.
        /// </summary>
        internal static bool SystemLibStdCxxLacksVersion()
        {
            if (!OperatingSystemIsLinux()) return false;
            foreach (var candidate in LibStdCxxCandidates)
            {
                if (!File.Exists(candidate)) continue;
                return !ContainsAscii(File.ReadAllBytes(candidate), MissingVersion + "\0");
            }
            return false;
        }

        /// <summary>
        /// Marks the GLIBCXX_3.4.32 requirement of <paramref name="path"/> weak. Writes a temp file beside it and moves it
        /// over the original, so a crash never leaves a half-written library.
        /// </summary>
        internal static PatchOutcome Apply(string path)
        {
            var bytes = File.ReadAllBytes(path);
            var flagsOffset = FindVernauxFlagsOffset(bytes, MissingVersion);
            if (flagsOffset < 0) return PatchOutcome.NotNeeded;
            var flags = (ushort)(bytes[flagsOffset] | (bytes[flagsOffset + 1] << 8));
            if ((flags & VerFlgWeak) != 0) return PatchOutcome.AlreadyPatched;
            flags |= VerFlgWeak;
            bytes[flagsOffset] = (byte)(flags & 0xff);
            bytes[flagsOffset + 1] = (byte)(flags >> 8);
            var temp = path + ".patching-" + Guid.NewGuid().ToString("N");
            try
            {
                File.WriteAllBytes(temp, bytes);
                File.Replace(temp, path, destinationBackupFileName: null); // rename over the original
            }
            finally
            {
                if (File.Exists(temp)) File.Delete(temp);
            }
            return PatchOutcome.Patched;
        }

        /// <summary>True when the file's requirement of <paramref name="version"/> is present and not weak.</summary>
        internal static bool HasStrongRequirement(string path, string version = MissingVersion)
        {
            var bytes = File.ReadAllBytes(path);
            var offset = FindVernauxFlagsOffset(bytes, version);
            return offset >= 0 && (bytes[offset] & VerFlgWeak) == 0;
        }

        /// <summary>
        /// Walks the ELF64 little-endian section headers to the SHT_GNU_verneed section and returns the file offset of
        /// the vna_flags field of the Vernaux entry named <paramref name="version"/>, or -1 when there is none.
        /// </summary>
        internal static int FindVernauxFlagsOffset(byte[] elf, string version)
        {
            if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
                throw new InvalidDataException("Not an ELF file.");
            if (elf[4] != 2 || elf[5] != 1)
                throw new InvalidDataException("Only 64-bit little-endian ELF files are supported.");
            var shoff = checked((int)ReadU64(elf, 0x28));
            int shentsize = ReadU16(elf, 0x3A), shnum = ReadU16(elf, 0x3C);
            for (var i = 0; i < shnum; i++)
            {
                var sh = shoff + i * shentsize;
                if (ReadU32(elf, sh + 4) != ShtGnuVerneed) continue;
                var offset = checked((int)ReadU64(elf, sh + 0x18));
                var strtabIndex = (int)ReadU32(elf, sh + 0x28);
                var count = (int)ReadU32(elf, sh + 0x2C);
                var strtab = checked((int)ReadU64(elf, shoff + strtabIndex * shentsize + 0x18));
                var need = offset;
                for (var n = 0; n < count; n++)
                {
                    int auxCount = ReadU16(elf, need + 2);
                    var aux = need + (int)ReadU32(elf, need + 8);
                    for (var a = 0; a < auxCount; a++)
                    {
                        var name = ReadCString(elf, strtab + (int)ReadU32(elf, aux + 8));
                        if (name == version) return aux + 4;
                        aux += (int)ReadU32(elf, aux + 12);
                    }
                    need += (int)ReadU32(elf, need + 12);
                }
            }
            return -1;
        }

        // MSBuild compiles this file against .NET Standard, so only APIs available there are used.
        private static bool OperatingSystemIsLinux() =>
            System.Runtime.InteropServices.RuntimeInformation.IsOSPlatform(System.Runtime.InteropServices.OSPlatform.Linux);

        private static bool ContainsAscii(byte[] haystack, string needle)
        {
            var pattern = Encoding.ASCII.GetBytes(needle);
            for (var i = 0; i + pattern.Length <= haystack.Length; i++)
            {
                var j = 0;
                while (j < pattern.Length && haystack[i + j] == pattern[j]) j++;
                if (j == pattern.Length) return true;
            }
            return false;
        }

        private static ushort ReadU16(byte[] b, int o) => (ushort)(b[o] | (b[o + 1] << 8));
        private static uint ReadU32(byte[] b, int o) => (uint)(b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24));
        private static ulong ReadU64(byte[] b, int o) => ReadU32(b, o) | ((ulong)ReadU32(b, o + 4) << 32);

        private static string ReadCString(byte[] b, int o)
        {
            var end = o;
            while (end < b.Length && b[end] != 0) end++;
            return Encoding.ASCII.GetString(b, o, end - o);
        }
    }
}

#if !HYPERSPARSE_LIBRARY
/// <summary>MSBuild task: patches every libLibTorchSharp.so in the given folders when the system needs it.</summary>
public sealed class PatchLibTorchSharp : Microsoft.Build.Utilities.Task
{
    [Microsoft.Build.Framework.Required]
    public string[] Directories { get; set; } = Array.Empty<string>();

    public override bool Execute()
    {
        if (!Microsoft.ML.HyperSparse.Engine.Native.LibTorchSharpPatch.SystemLibStdCxxLacksVersion()) return true;
        foreach (var dir in Directories)
        {
            var file = Path.Combine(dir, Microsoft.ML.HyperSparse.Engine.Native.LibTorchSharpPatch.FileName);
            if (!File.Exists(file)) continue;
            var outcome = Microsoft.ML.HyperSparse.Engine.Native.LibTorchSharpPatch.Apply(file);
            if (outcome == Microsoft.ML.HyperSparse.Engine.Native.PatchOutcome.Patched)
                Log.LogMessage(Microsoft.Build.Framework.MessageImportance.Normal,
                    "HyperSparse: marked GLIBCXX_3.4.32 weak in {0} (system libstdc++ predates GCC 13).", file);
        }
        return true;
    }
}
#endif
