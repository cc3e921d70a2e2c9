using System.Collections;
using System.IO.Compression;
using System.Text.RegularExpressions;
using Microsoft.ML.HyperSparse.Engine.Native;
using Razorvine.Pickle;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace Microsoft.ML.HyperSparse.Engine.Pretrained;

/// <summary>
/// Reads a PyTorch state_dict saved with <c>torch.save(model.state_dict(), path)</c> (the zip format of PyTorch ≥ 1.6) of a
/// torchvision ResNet with basic blocks (ResNet-18/34) through TorchSharp.PyBridge, without Python.
/// </summary>
/// <remarks>
/// torchvision's names are <see cref="Models.ImageNetResNet"/>'s, so tensors map by name; a "module." prefix (what
/// nn.DataParallel adds) is dropped and num_batches_tracked (a training counter) ignored. Blocks per stage are counted from
/// the keys layer{s}.{i}.conv1.weight. Float64, float16 and bfloat16 tensors are converted to float32.
/// </remarks>
internal static partial class TorchStateDict
{
    /// <summary>A ResNet-34 state_dict is 87 MB; reading is refused above this bound before a byte is read.</summary>
    internal const long MaxFileBytes = 1L << 30;

    private const string DataParallelPrefix = "module.";

    /// <summary>Reads <paramref name="path"/> and maps its tensors.</summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="InvalidDataException">Too large, not a torch.save zip of a state_dict, or not a supported ResNet; the message names the file and the key or what did not fit.</exception>
    public static PretrainedWeights Read(string path)
    {
        string file = Path.GetFullPath(path);
        var info = new FileInfo(file);
        if (!info.Exists)
            throw new FileNotFoundException($"The PyTorch file '{file}' does not exist.", file);
        if (info.Length > MaxFileBytes)
            throw Invalid(file, $"a file of {info.Length:N0} bytes; the limit is {MaxFileBytes:N0} bytes (a ResNet-34 state_dict is about 87 MB)");
        TorchRuntime.EnsureLoaded();

        Hashtable dict;
        using (var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read))
        {
            var head = new byte[4];
            int read = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
            if (read < 4 || head[0] != (byte)'P' || head[1] != (byte)'K')
                throw Invalid(file, read > 0 && head[0] == 0x80
                    ? "a pickle in PyTorch's legacy (pre-1.6) format; re-save it with torch.save in PyTorch 1.6 or later (the zip format)"
                    : "no zip archive (torch.save writes one)");
            stream.Position = 0;
            try
            {
                dict = PyTorchUnpickler.UnpickleStateDict(stream, leaveOpen: true);
            }
            catch (Exception e) when (e is NotImplementedException or InvalidDataException or InvalidCastException or InvalidOperationException
                                          or PickleException or EndOfStreamException or IOException or ArgumentException or NullReferenceException)
            {
                // PyBridge's own reasons (a whole pickled model, an unknown storage type) and a damaged archive alike.
                throw new InvalidDataException($"Cannot load ResNet weights from the PyTorch file '{file}': found a file that does not read as a torch.save state_dict ({e.GetType().Name}: {e.Message}).", e);
            }
        }

        var tensors = new Dictionary<string, PretrainedTensor>(StringComparer.Ordinal);
        try
        {
            foreach (DictionaryEntry entry in dict)
            {
                if (entry.Key is not string key || entry.Value is not Tensor value)
                    throw Invalid(file, $"an entry of type {entry.Key?.GetType().Name} → {entry.Value?.GetType().Name}; a state_dict maps names to tensors");
                tensors[key] = Floats(file, key, value);
            }
        }
        finally
        {
            foreach (object? value in dict.Values)
                (value as IDisposable)?.Dispose();
        }
        return Weights(tensors, file);
    }

    /// <summary>Maps tensors read by state_dict name onto <see cref="Models.ImageNetResNet"/>'s names and counts the blocks.</summary>
    /// <exception cref="InvalidDataException">A key that a ResNet with basic blocks does not have, or a missing one; the message names the file and the key.</exception>
    internal static PretrainedWeights Weights(IReadOnlyDictionary<string, PretrainedTensor> stateDict, string source)
    {
        bool parallel = stateDict.Count > 0 && stateDict.Keys.All(k => k.StartsWith(DataParallelPrefix, StringComparison.Ordinal));
        var tensors = new Dictionary<string, PretrainedTensor>(StringComparer.Ordinal);
        var blockCounts = new SortedDictionary<int, SortedSet<int>>();
        var unsupported = new List<string>();
        foreach (var (key, tensor) in stateDict.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            string name = parallel ? key[DataParallelPrefix.Length..] : key;
            if (name.EndsWith(".num_batches_tracked", StringComparison.Ordinal)) continue;
            Match block = BlockKey().Match(name);
            if (!block.Success && !StemOrHead().IsMatch(name))
            {
                unsupported.Add(key);
                continue;
            }
            if (block.Success)
            {
                int stage = int.Parse(block.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
                if (!int.TryParse(block.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture, out int index) || index > 1000)
                    throw Invalid(source, $"key '{key}' with block index {block.Groups[2].Value}");
                (blockCounts.TryGetValue(stage, out var set) ? set : blockCounts[stage] = []).Add(index);
            }
            // The loader names the tensor; the file's own key only when it differs.
            tensors[name] = tensor with { Origin = parallel ? $"key '{key}'" : null };
        }
        if (unsupported.Count > 0)
        {
            // A weight key says more than a statistic's (a bottleneck's conv3 rather than its bn3).
            string key = unsupported.FirstOrDefault(k => k.EndsWith("conv3.weight", StringComparison.Ordinal)) ?? unsupported[0];
            throw Invalid(source, $"key '{key}'{Hint(key)}{(unsupported.Count > 1 ? $" (and {unsupported.Count - 1} more keys a basic-block ResNet does not have)" : "")}; " +
                "supported: torchvision ResNets with basic blocks (ResNet-18/34)");
        }

        var blocks = new int[4];
        for (int stage = 1; stage <= 4; stage++)
        {
            if (!blockCounts.TryGetValue(stage, out var indices))
                throw Invalid(source, $"no keys layer{stage}.*; an ImageNet ResNet has 4 stages (layer1 … layer4)");
            blocks[stage - 1] = indices.Max + 1;
        }
        string[] expected = [.. ResNetLayout.BackboneTensors(blocks)];
        if (expected.FirstOrDefault(name => !tensors.ContainsKey(name)) is { } missing)
            throw Invalid(source, $"no key '{(parallel ? DataParallelPrefix : "")}{missing}', which a ResNet with blocks [{string.Join(", ", blocks)}] has");
        var known = new HashSet<string>(expected.Concat(PretrainedLoader.HeadTensors), StringComparer.Ordinal);
        if (tensors.Keys.FirstOrDefault(name => !known.Contains(name)) is { } extra)
            throw Invalid(source, $"key '{(parallel ? DataParallelPrefix : "")}{extra}', which a ResNet with blocks [{string.Join(", ", blocks)}] does not have " +
                "(basic blocks have a downsample only in the first block of stages 2–4)");
        if (tensors.ContainsKey("fc.weight") != tensors.ContainsKey("fc.bias"))
            throw Invalid(source, $"only one of the classifier's keys fc.weight and fc.bias");
        long[] stem = tensors["conv1.weight"].Shape;
        if (stem is not [_, > 0 and <= 4096, _, _])
            throw Invalid(source, $"key '{(parallel ? DataParallelPrefix : "")}conv1.weight' of shape [{string.Join(", ", stem)}]; expected [64, channels, 7, 7]");
        return new PretrainedWeights
        {
            Source = source,
            Format = "PyTorch state_dict (torch.save, read by TorchSharp.PyBridge); preprocessing assumed torchvision's ImageNet normalisation (the file states none)",
            Blocks = blocks,
            InputChannels = (int)stem[1],
            Tensors = tensors,
            Preprocessing = PretrainedPreprocessing.TorchvisionImageNet,
        };
    }

    private static string Hint(string name) =>
        name.Contains(".conv3.", StringComparison.Ordinal) || name.Contains(".bn3.", StringComparison.Ordinal)
            ? " of a bottleneck block (ResNet-50/101/152 and wide ResNets have conv3)"
            : "";

    /// <summary>One tensor as float32 (float64 rounds, float16 and bfloat16 widen exactly); integer tensors are refused.</summary>
    private static PretrainedTensor Floats(string source, string key, Tensor value)
    {
        ScalarType type = value.dtype;
        if (type is not (ScalarType.Float32 or ScalarType.Float64 or ScalarType.Float16 or ScalarType.BFloat16))
        {
            if (key.EndsWith(".num_batches_tracked", StringComparison.Ordinal))
                return new PretrainedTensor(value.shape, [], $"key '{key}'");
            throw Invalid(source, $"key '{key}' of element type {type}; expected floating point");
        }
        using var scope = NewDisposeScope();
        float[] values = value.to_type(ScalarType.Float32).contiguous().data<float>().ToArray();
        return new PretrainedTensor(value.shape, values, $"key '{key}'");
    }

    [GeneratedRegex(@"^layer([1-4])\.(\d+)\.(conv[12]\.weight|bn[12]\.(weight|bias|running_mean|running_var)|downsample\.0\.weight|downsample\.1\.(weight|bias|running_mean|running_var))$")]
    private static partial Regex BlockKey();

    [GeneratedRegex(@"^(conv1\.weight|bn1\.(weight|bias|running_mean|running_var)|fc\.(weight|bias))$")]
    private static partial Regex StemOrHead();

    private static InvalidDataException Invalid(string source, string found) =>
        new($"Cannot load ResNet weights from the PyTorch file '{source}': found {found}.");
}
