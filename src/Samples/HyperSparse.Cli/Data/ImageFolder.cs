namespace HyperSparse.Cli.Data;

/// <summary>One labelled image file.</summary>
internal sealed record LabeledImage(string Path, string Label);

/// <summary>
/// A folder of class subfolders (<c>root/&lt;class&gt;/**/*.png</c>): the subfolder name is the label. Files are listed in
/// ordinal order so the same folder always gives the same rows (resume depends on it).
/// </summary>
internal sealed class ImageFolder
{
    public static readonly string[] Extensions = { ".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp" };

    private ImageFolder(string root, string[] classNames, IReadOnlyList<LabeledImage> images)
    {
        Root = root;
        ClassNames = classNames;
        Images = images;
    }

    public string Root { get; }

    /// <summary>Class names (subfolders holding images) in ordinal order: the key order of the model.</summary>
    public string[] ClassNames { get; }

    public IReadOnlyList<LabeledImage> Images { get; }

    /// <summary>Lists the images; usage errors name <paramref name="option"/> and say what was found.</summary>
    public static ImageFolder Open(string command, string option, string root, int minimumClasses)
    {
        var full = System.IO.Path.GetFullPath(root);
        const string expected = "a folder with one subfolder of images per class (or an IDX folder)";
        if (!Directory.Exists(full))
            throw new UsageException($"{command}: option {option}: expected {expected}, found '{root}', which does not exist.");
        var images = new List<LabeledImage>();
        var classes = new List<string>();
        foreach (var dir in Directory.EnumerateDirectories(full).Order(StringComparer.Ordinal))
        {
            var name = System.IO.Path.GetFileName(dir);
            if (name.StartsWith('.')) continue;
            var files = Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories)
                .Where(IsImage)
                .Where(f => !System.IO.Path.GetFileName(f).StartsWith('.'))
                .Order(StringComparer.Ordinal)
                .ToList();
            if (files.Count == 0) continue;
            classes.Add(name);
            images.AddRange(files.Select(f => new LabeledImage(f, name)));
        }
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
        return new ImageFolder(full, classes.ToArray(), images);
    }

    public static bool IsImage(string path) =>
        Extensions.Contains(System.IO.Path.GetExtension(path), StringComparer.OrdinalIgnoreCase);
}
