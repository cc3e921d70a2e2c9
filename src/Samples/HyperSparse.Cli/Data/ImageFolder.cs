namespace HyperSparse.Cli.Data;

/// <summary>One labelled image file.</summary>
internal sealed record LabeledImage(string Path, string Label);

/// <summary>
/// A folder of class subfolders (<c>root/&lt;class&gt;/**/*.png</c>): the subfolder name is the label. Files are listed in
/// ordinal order so the same folder always gives the same rows (resume depends on it). Hidden files and folders (a leading
/// dot) are ignored; other files without an image extension and class folders without images are skipped and named in
/// <see cref="Notes"/>. Whether the images decode is checked separately (<see cref="ImageCheck"/>).
/// </summary>
internal sealed class ImageFolder
{
    public static IReadOnlyList<string> Extensions => HyperSparse.Imaging.ImageGate.Extensions;

    private ImageFolder(string root, string[] classNames, IReadOnlyList<LabeledImage> images, IReadOnlyList<string> notes)
    {
        Root = root;
        ClassNames = classNames;
        Images = images;
        Notes = notes;
    }

    public string Root { get; }

    /// <summary>Class names (subfolders holding images) in ordinal order: the key order of the model.</summary>
    public string[] ClassNames { get; }

    public IReadOnlyList<LabeledImage> Images { get; }

    /// <summary>What was skipped: files without an image extension, class folders without images.</summary>
    public IReadOnlyList<string> Notes { get; }

    /// <summary>Lists the images; usage errors name <paramref name="option"/> and say what was found.</summary>
    public static ImageFolder Open(string command, string option, string root, int minimumClasses)
    {
        var full = System.IO.Path.GetFullPath(root);
        const string expected = "a folder with one subfolder of images per class (or an IDX folder)";
        if (!Directory.Exists(full))
            throw new UsageException($"{command}: option {option}: expected {expected}, found '{root}', which does not exist.");
        var images = new List<LabeledImage>();
        var classes = new List<string>();
        var empty = new List<string>();
        var other = new List<string>();
        var links = new List<string>();
        foreach (var dir in Directory.EnumerateDirectories(full).Order(StringComparer.Ordinal))
        {
            var name = System.IO.Path.GetFileName(dir);
            if (name.StartsWith('.')) continue;
            var visible = new List<string>();
            Walk(dir, visible, links);
            visible.Sort(StringComparer.Ordinal);
            var files = visible.Where(IsImage).ToList();
            other.AddRange(visible.Where(f => !IsImage(f)));
            if (files.Count == 0)
            {
                empty.Add(name);
                continue;
            }
            classes.Add(name);
            images.AddRange(files.Select(f => new LabeledImage(f, name)));
        }
        var duplicates = RemoveDuplicates(command, option, full, images);
        var notes = new List<string>();
        if (empty.Count > 0)
            notes.Add($"skipped {empty.Count} class folder(s) without images: {string.Join(", ", empty.Select(e => $"'{e}'"))} (no such class in the model)");
        if (other.Count > 0)
            notes.Add($"ignored {other.Count} file(s) without an image extension ({string.Join(", ", Extensions)}): " +
                string.Join(", ", other.Take(ImageCheck.Listed).Select(f => $"'{System.IO.Path.GetRelativePath(full, f)}'")) +
                (other.Count > ImageCheck.Listed ? $" and {other.Count - ImageCheck.Listed} more" : ""));
        if (links.Count > 0)
            notes.Add($"skipped {links.Count} folder symlink(s), which are not followed (a loop or a link to another class would repeat images or give them two labels): " +
                string.Join(", ", links.Take(ImageCheck.Listed).Select(f => $"'{System.IO.Path.GetRelativePath(full, f)}'")) +
                (links.Count > ImageCheck.Listed ? $" and {links.Count - ImageCheck.Listed} more" : ""));
        if (duplicates.Count > 0)
            notes.Add($"read {duplicates.Count} file(s) once that are reached twice in their class (through a file symlink or hard link): " +
                string.Join(", ", duplicates.Take(ImageCheck.Listed).Select(f => $"'{System.IO.Path.GetRelativePath(full, f)}'")) +
                (duplicates.Count > ImageCheck.Listed ? $" and {duplicates.Count - ImageCheck.Listed} more" : ""));
        if (images.Count == 0)
        {
            var loose = Directory.EnumerateFiles(full).Count(IsImage);
            throw new UsageException(loose > 0
                ? $"{command}: option {option}: expected {expected}, found '{root}' with {loose} image(s) directly inside and no class subfolders. Put each class's images in a subfolder named after the class."
                : $"{command}: option {option}: expected {expected}, found no images ({string.Join(", ", Extensions)}) in '{root}'.");
        }
        if (classes.Count < minimumClasses)
            throw new UsageException(
                $"{command}: option {option}: expected at least {minimumClasses} classes (subfolders with images), found {classes.Count} ('{string.Join("', '", classes)}') in '{root}'.");
        return new ImageFolder(full, classes.ToArray(), images, notes);
    }

    /// <summary>
    /// Lists the visible files under <paramref name="dir"/> (no name part starting with a dot). Folder symlinks are not
    /// followed, only listed in <paramref name="links"/>: a link loop would repeat every image (spread over train and
    /// hold-out, inflating the hold-out accuracy) and a link to another class folder would give its images two labels.
    /// File symlinks are read (their targets are de-duplicated by <see cref="RemoveDuplicates"/>).
    /// </summary>
    internal static void Walk(string dir, List<string> files, List<string> links)
    {
        foreach (var entry in Directory.EnumerateFileSystemEntries(dir))
        {
            if (System.IO.Path.GetFileName(entry).StartsWith('.')) continue;
            switch (HyperSparse.Imaging.FileKind.Of(entry, followLinks: false))
            {
                case HyperSparse.Imaging.FileKind.Kind.Directory:
                    Walk(entry, files, links);
                    break;
                case HyperSparse.Imaging.FileKind.Kind.SymbolicLink when Directory.Exists(entry):
                    links.Add(entry);
                    break;
                default:
                    files.Add(entry);   // regular files, file links, and oddities the image check names
                    break;
            }
        }
    }

    /// <summary>
    /// One file reached by two paths (a file symlink, a hard link is not seen) is one image: within a class it is read once
    /// (the first path in ordinal order; returned for a note), under two classes it is an error naming both.
    /// </summary>
    private static List<string> RemoveDuplicates(string command, string option, string root, List<LabeledImage> images)
    {
        var seen = new Dictionary<string, LabeledImage>(StringComparer.Ordinal);
        var removed = new List<string>();
        var kept = new List<LabeledImage>(images.Count);
        foreach (var image in images)
        {
            var real = HyperSparse.Imaging.FileKind.RealPath(image.Path);
            if (seen.TryGetValue(real, out var first))
            {
                if (first.Label != image.Label)
                    throw new UsageException($"{command}: option {option}: expected every image to have one class, found '{real}' under class '{first.Label}' " +
                        $"('{System.IO.Path.GetRelativePath(root, first.Path)}') and under class '{image.Label}' ('{System.IO.Path.GetRelativePath(root, image.Path)}'), through a symbolic link. Remove the link.");
                removed.Add(image.Path);
                continue;
            }
            seen[real] = image;
            kept.Add(image);
        }
        images.Clear();
        images.AddRange(kept);
        return removed;
    }

    public static bool IsImage(string path) => HyperSparse.Imaging.ImageGate.HasImageExtension(path);
}
