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
    public static readonly string[] Extensions = { ".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp" };

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
        foreach (var dir in Directory.EnumerateDirectories(full).Order(StringComparer.Ordinal))
        {
            var name = System.IO.Path.GetFileName(dir);
            if (name.StartsWith('.')) continue;
            var visible = Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories)
                .Where(f => !System.IO.Path.GetRelativePath(dir, f).Split(System.IO.Path.DirectorySeparatorChar).Any(part => part.StartsWith('.')))
                .Order(StringComparer.Ordinal)
                .ToList();
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
        var notes = new List<string>();
        if (empty.Count > 0)
            notes.Add($"skipped {empty.Count} class folder(s) without images: {string.Join(", ", empty.Select(e => $"'{e}'"))} (no such class in the model)");
        if (other.Count > 0)
            notes.Add($"ignored {other.Count} file(s) without an image extension ({string.Join(", ", Extensions)}): " +
                string.Join(", ", other.Take(ImageCheck.Listed).Select(f => $"'{System.IO.Path.GetRelativePath(full, f)}'")) +
                (other.Count > ImageCheck.Listed ? $" and {other.Count - ImageCheck.Listed} more" : ""));
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

    public static bool IsImage(string path) =>
        Extensions.Contains(System.IO.Path.GetExtension(path), StringComparer.OrdinalIgnoreCase);
}
