using System.Runtime.InteropServices;

namespace HyperSparse.Imaging;

/// <summary>
/// What kind of file system object a path is — regular file, directory, symbolic link, or something that is neither (a
/// device, FIFO or socket). .NET reports only "file" or "directory", and a FIFO opened for reading blocks until a writer
/// comes while <c>/dev/zero</c> never ends, so code that reads or replaces a user-given path asks here first.
/// </summary>
internal static class FileKind
{
    /// <summary>The kinds told apart.</summary>
    public enum Kind
    {
        /// <summary>Nothing there (or, following links, a link to nothing).</summary>
        Missing,
        /// <summary>A regular file.</summary>
        Regular,
        /// <summary>A directory.</summary>
        Directory,
        /// <summary>A symbolic link (only when links are not followed).</summary>
        SymbolicLink,
        /// <summary>A character or block device, a FIFO or a socket.</summary>
        Special,
    }

    /// <summary>The kind of <paramref name="path"/>; with <paramref name="followLinks"/> a link is the kind of its final target.</summary>
    public static Kind Of(string path, bool followLinks)
    {
        if (OperatingSystem.IsLinux())
        {
            var buffer = new byte[256];
            // statx has one layout on every Linux architecture (unlike struct stat): stx_mode is a u16 at offset 28.
            if (statx(AtFdCwd, path, followLinks ? 0 : AtSymlinkNoFollow, StatxType, buffer) != 0) return Kind.Missing;
            var type = BitConverter.ToUInt16(buffer, 28) & 0xF000;
            return type switch
            {
                0x8000 => Kind.Regular,
                0x4000 => Kind.Directory,
                0xA000 => Kind.SymbolicLink,
                _ => Kind.Special,
            };
        }
        // Elsewhere: what .NET can tell (a device or FIFO shows as a file there).
        FileSystemInfo info = Directory.Exists(path) ? new DirectoryInfo(path) : new FileInfo(path);
        if (info.LinkTarget is not null)
        {
            if (!followLinks) return Kind.SymbolicLink;
            info = info.ResolveLinkTarget(returnFinalTarget: true) ?? info;
        }
        if (!info.Exists) return Kind.Missing;
        return info is DirectoryInfo ? Kind.Directory : Kind.Regular;
    }

    /// <summary>"a directory", "a device, FIFO or socket", … for messages.</summary>
    public static string Describe(Kind kind) => kind switch
    {
        Kind.Missing => "nothing (it does not exist)",
        Kind.Regular => "a regular file",
        Kind.Directory => "a directory",
        Kind.SymbolicLink => "a symbolic link",
        _ => "a device, FIFO or socket",
    };

    /// <summary>
    /// The absolute path with every symbolic link and "." / ".." resolved, also for a path that does not exist yet (its
    /// deepest existing folder is resolved and the rest appended), so two paths to the same place compare equal.
    /// </summary>
    public static string RealPath(string path)
    {
        var full = Path.GetFullPath(path);
        var rest = new Stack<string>();
        var current = full;
        while (true)
        {
            if (Resolve(current) is { } resolved)
                return rest.Aggregate(resolved, Path.Combine);
            var parent = Path.GetDirectoryName(current);
            if (parent is null) return full;
            rest.Push(Path.GetFileName(current));
            current = parent;
        }
    }

    private static string? Resolve(string existing)
    {
        if (!File.Exists(existing) && !Directory.Exists(existing)) return null;
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS()) return existing;
        var result = realpath(existing, IntPtr.Zero);
        if (result == IntPtr.Zero) return null;
        try
        {
            return Marshal.PtrToStringUTF8(result);
        }
        finally
        {
            free(result);
        }
    }

    [DllImport("libc", SetLastError = true)]
    private static extern IntPtr realpath([MarshalAs(UnmanagedType.LPUTF8Str)] string path, IntPtr resolved);

    [DllImport("libc")]
    private static extern void free(IntPtr pointer);

    private const int AtFdCwd = -100;
    private const int AtSymlinkNoFollow = 0x100;
    private const uint StatxType = 0x1;

    [DllImport("libc", SetLastError = true)]
    private static extern int statx(int dirfd, [MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags, uint mask, byte[] buffer);
}
