using System.Globalization;
using System.Reflection;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.HyperSparse;

namespace Microsoft.ML.HyperSparse.Tests.MLNet;

/// <summary>
/// Bad input through the public API: every case fails with an exception that names the column or option, what was
/// expected and what was found — option errors at the catalog call, schema and data errors in Fit before the first epoch.
/// </summary>
[TestClass]
public sealed class HyperSparseBadInputTests
{
    public TestContext TestContext { get; set; } = null!;

    public sealed class Row
    {
        public float[] Features { get; set; } = Array.Empty<float>();
        public uint Label { get; set; }
    }

    public sealed class TextRow
    {
        public float[] Features { get; set; } = Array.Empty<float>();
        public string LabelText { get; set; } = "";
    }

    public sealed class DoubleRow
    {
        public double[] Features { get; set; } = Array.Empty<double>();
        public uint Label { get; set; }
    }

    public sealed class ByteRow
    {
        public byte[] Features { get; set; } = Array.Empty<byte>();
        public uint Label { get; set; }
    }

    public sealed class ScalarRow
    {
        public float Features { get; set; }
        public uint Label { get; set; }
    }

    public sealed class FloatLabelRow
    {
        public float[] Features { get; set; } = Array.Empty<float>();
        public float Label { get; set; }
    }

    public sealed class StringLabelRow
    {
        public float[] Features { get; set; } = Array.Empty<float>();
        public string Label { get; set; } = "";
    }

    public sealed class ByteKeyRow
    {
        public float[] Features { get; set; } = Array.Empty<float>();
        public byte Label { get; set; }
    }

    public sealed class KeyName
    {
        public string Value { get; set; } = "";
    }

    private static readonly VectorDataViewType Chw1x4x4 = new(NumberDataViewType.Single, 1, 4, 4);
    private static readonly VectorDataViewType Flat16 = new(NumberDataViewType.Single, 16);

    private static float[] Pixels(int row, int count = 16) =>
        Enumerable.Range(0, count).Select(p => (row * 7 + p * 3) % 11 / 10f).ToArray();

    /// <summary>
    /// Rows of 1×4×4 images over <paramref name="classes"/> classes. LoadFromEnumerable takes a key column's .NET value as
    /// the 0-based class index (it stores index + 1, keeping 0 for "missing"), so labels cycle 0..classes-1 here.
    /// </summary>
    private static List<Row> Rows(int count, int classes = 2, int size = 16) =>
        Enumerable.Range(0, count).Select(i => new Row { Features = Pixels(i, size), Label = (uint)(i % classes) }).ToList();

    private static IDataView Load<T>(MLContext ml, IEnumerable<T> rows, DataViewType? features = null, DataViewType? label = null)
        where T : class
    {
        var definition = SchemaDefinition.Create(typeof(T));
        if (features is not null) definition["Features"].ColumnType = features;
        if (label is not null) definition["Label"].ColumnType = label;
        return ml.Data.LoadFromEnumerable(rows, definition);
    }

    private static KeyDataViewType Key(int classes) => new(typeof(uint), classes);

    /// <summary>Valid data: 16 images of 1×4×4 with a 2-class key label.</summary>
    private static IDataView Good(MLContext ml, int count = 16) => Load(ml, Rows(count), Chw1x4x4, Key(2));

    private static MulticlassClassificationCatalog.MulticlassClassificationTrainers Trainers(MLContext ml) => ml.MulticlassClassification.Trainers;

    /// <summary>A schedule that would finish in about a second if a check ever let bad data through.</summary>
    private static HyperSparseClassificationTrainer.Options Quick(Action<HyperSparseClassificationTrainer.Options>? change = null)
    {
        var options = new HyperSparseClassificationTrainer.Options
        {
            Architecture = HyperSparseArchitecture.Mlp,
            WarmupEpochs = 1,
            MaxArtEpochs = 1,
            FineTuneEpochs = 1,
            LearningRateSteps = Array.Empty<int>(),
            BatchSize = 16,
            CropPadding = 0,
            HorizontalFlip = false,
        };
        change?.Invoke(options);
        return options;
    }

    private static HyperSparseClassificationTrainer Positional(MLContext ml, string label = "Label", string feature = "Features") =>
        Trainers(ml).HyperSparseClassification(label, feature, 0.9, HyperSparseArchitecture.Mlp, warmupEpochs: 1, fineTuneEpochs: 1, batchSize: 16);

    /// <summary>Fits and expects <typeparamref name="TException"/>, raised before training started (nothing about epochs logged).</summary>
    private static TException FitFails<TException>(MLContext ml, IEstimator<ITransformer> estimator, IDataView data)
        where TException : Exception
    {
        var log = new List<string>();
        void Collect(object? sender, LoggingEventArgs e)
        {
            if (e.Message.Contains("HyperSparse", StringComparison.Ordinal)) lock (log) log.Add(e.Message);
        }
        ml.Log += Collect;
        try
        {
            var ex = Assert.ThrowsExactly<TException>(() => estimator.Fit(data));
            // "N training images …" is logged once every check has passed, just before the first epoch.
            Assert.IsFalse(log.Any(l => l.Contains("training images", StringComparison.Ordinal) || l.Contains(" epoch ", StringComparison.Ordinal)),
                "the error must come before training starts; log:\n" + string.Join("\n", log));
            return ex;
        }
        finally
        {
            ml.Log -= Collect;
        }
    }

    /// <summary>
    /// The SchemaShape of a data view. ML.NET builds these itself (SchemaShape.Create is internal), so the test reaches it
    /// by reflection; the estimator under test is still called through its public GetOutputSchema.
    /// </summary>
    private static SchemaShape ShapeOf(DataViewSchema schema) =>
        (SchemaShape)typeof(SchemaShape).GetMethod("Create", BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic, new[] { typeof(DataViewSchema) })!
            .Invoke(null, new object[] { schema })!;

    private static ArgumentOutOfRangeException SchemaFails(IEstimator<ITransformer> estimator, IDataView data) =>
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => estimator.GetOutputSchema(ShapeOf(data.Schema)));

    private void Mentions(Exception ex, params string[] parts)
    {
        TestContext.WriteLine($"{ex.GetType().Name}: {ex.Message}");
        foreach (var part in parts)
            Assert.IsTrue(ex.Message.Contains(part, StringComparison.Ordinal), $"the message should contain «{part}»; it is:\n{ex.Message}");
    }

    // ---- options: thrown by the catalog call, before any data is seen ----

    [TestMethod]
    [DataRow(0.0, "0")]
    [DataRow(1.0, "1")]
    [DataRow(-0.1, "-0.1")]
    [DataRow(double.NaN, "NaN")]
    public void HyperSparseClassification_PruningRateOutsideOpenUnitInterval_ThrowsAtCatalogCall(double kappa, string found)
    {
        var previous = CultureInfo.CurrentCulture;
        // A decimal-comma culture: the message must still read "-0.1".
        CultureInfo.CurrentCulture = CultureInfo.GetCultureInfo("de-DE");
        try
        {
            var ml = new MLContext();
            var errors = new[]
            {
                Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => Trainers(ml).HyperSparseClassification(pruningRate: kappa)),
                Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => Trainers(ml).HyperSparseClassification(Quick(o => o.PruningRate = kappa))),
            };
            foreach (var ex in errors)
            {
                Assert.AreEqual("PruningRate", ex.ParamName);
                Mentions(ex, "Option 'PruningRate' must be in (0, 1); found " + found + ".");
            }
        }
        finally
        {
            CultureInfo.CurrentCulture = previous;
        }
    }

    [TestMethod]
    [DataRow("WarmupEpochs", 0)]
    [DataRow("WarmupEpochs", -1)]
    [DataRow("FineTuneEpochs", 0)]
    [DataRow("FineTuneEpochs", -1)]
    [DataRow("MaxArtEpochs", 0)]
    [DataRow("MaxArtEpochs", -3)]
    [DataRow("BatchSize", 0)]
    [DataRow("BatchSize", -1)]
    public void HyperSparseClassification_NonPositiveEpochsOrBatchSize_ThrowsAtCatalogCall(string option, int value)
    {
        var ml = new MLContext();
        var options = Quick(o =>
        {
            switch (option)
            {
                case "WarmupEpochs": o.WarmupEpochs = value; break;
                case "FineTuneEpochs": o.FineTuneEpochs = value; break;
                case "MaxArtEpochs": o.MaxArtEpochs = value; break;
                default: o.BatchSize = value; break;
            }
        });
        var errors = new List<ArgumentOutOfRangeException>
        {
            Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => Trainers(ml).HyperSparseClassification(options)),
        };
        if (option != "MaxArtEpochs") // the positional overload has no MaxArtEpochs
            errors.Add(Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => option switch
            {
                "WarmupEpochs" => Trainers(ml).HyperSparseClassification(warmupEpochs: value),
                "FineTuneEpochs" => Trainers(ml).HyperSparseClassification(fineTuneEpochs: value),
                _ => Trainers(ml).HyperSparseClassification(batchSize: value),
            }));
        foreach (var ex in errors)
        {
            Assert.AreEqual(option, ex.ParamName);
            Mentions(ex, $"Option '{option}' must be ≥ 1; found {value}.");
        }
    }

    [TestMethod]
    public void Trainer_OptionsBrokenAfterCreation_DoNotReachTheTrainerWhichKeptACheckedCopy()
    {
        var ml = new MLContext();
        var options = Quick();
        var trainer = Trainers(ml).HyperSparseClassification(options);
        options.PruningRate = 1.5;
        trainer.TrainerOptions.PruningRate = 1.5;
        Assert.AreEqual(Quick().PruningRate, trainer.TrainerOptions.PruningRate, "neither the caller's object nor a TrainerOptions copy changes the trainer");
        var first = trainer.TrainerOptions;
        var second = trainer.TrainerOptions;
        Assert.AreNotSame(first, second, "TrainerOptions hands out copies");
    }

    [TestMethod]
    [DataRow(2000)]
    [DataRow(0)]
    [DataRow(-1)]
    [DataRow(int.MaxValue)]
    public void HyperSparseClassification_NumberOfThreadsOutsideOneToProcessorCount_ThrowsAtCatalogCall(int threads)
    {
        var ml = new MLContext();
        var ex = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => Trainers(ml).HyperSparseClassification(Quick(o => o.NumberOfThreads = threads)));
        Assert.AreEqual("NumberOfThreads", ex.ParamName);
        Mentions(ex, $"Option 'NumberOfThreads' must be in 1..{Environment.ProcessorCount} (this machine's processor count), or null for all of them; " +
                     $"found {threads.ToString(CultureInfo.InvariantCulture)}.");

        // One more than the machine has is already too many; all of them is fine.
        ex = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => Trainers(ml).HyperSparseClassification(Quick(o => o.NumberOfThreads = Environment.ProcessorCount + 1)));
        Assert.AreEqual("NumberOfThreads", ex.ParamName);
        _ = Trainers(ml).HyperSparseClassification(Quick(o => o.NumberOfThreads = Environment.ProcessorCount));
    }

    // ---- schema: thrown by Fit (and GetOutputSchema where a SchemaShape can show it) before a row is read ----

    [TestMethod]
    public void Fit_FeatureColumnMissing_NamesTheColumnAndTheColumnsFound()
    {
        var ml = new MLContext();
        var data = Good(ml);
        foreach (var trainer in new[] { Positional(ml, feature: "Pixels"), Trainers(ml).HyperSparseClassification(Quick(o => o.FeatureColumnName = "Pixels")) })
        {
            foreach (var ex in new[] { FitFails<ArgumentOutOfRangeException>(ml, trainer, data), SchemaFails(trainer, data) })
            {
                Assert.AreEqual("FeatureColumnName", ex.ParamName);
                Mentions(ex, "Feature column 'Pixels' not found: expected a column named 'Pixels' (option FeatureColumnName), found columns 'Features', 'Label'.");
            }
        }
    }

    [TestMethod]
    public void Fit_LabelColumnMissing_NamesTheColumnAndTheColumnsFound()
    {
        var ml = new MLContext();
        var data = Good(ml);
        foreach (var trainer in new[] { Positional(ml, label: "Class"), Trainers(ml).HyperSparseClassification(Quick(o => o.LabelColumnName = "Class")) })
        {
            foreach (var ex in new[] { FitFails<ArgumentOutOfRangeException>(ml, trainer, data), SchemaFails(trainer, data) })
            {
                Assert.AreEqual("LabelColumnName", ex.ParamName);
                Mentions(ex, "Label column 'Class' not found: expected a column named 'Class' (option LabelColumnName), found columns 'Features', 'Label'.");
            }
        }
    }

    [TestMethod]
    public void Fit_FeatureNotSingle_NamesTheColumnAndItsType()
    {
        var ml = new MLContext();
        var cases = new (IDataView Data, string FitFound, string SchemaFound)[]
        {
            (Load(ml, Rows(4).Select(r => new DoubleRow { Features = r.Features.Select(v => (double)v).ToArray(), Label = r.Label }),
                new VectorDataViewType(NumberDataViewType.Double, 1, 4, 4), Key(2)), "Vector<Double, 1, 4, 4>", "Vector of Double"),
            // ExtractPixels(outputAsFloatArray: false) gives bytes.
            (Load(ml, Rows(4).Select(r => new ByteRow { Features = r.Features.Select(v => (byte)(v * 255)).ToArray(), Label = r.Label }),
                new VectorDataViewType(NumberDataViewType.Byte, 1, 4, 4), Key(2)), "Vector<Byte, 1, 4, 4>", "Vector of Byte"),
            (Load(ml, Rows(4).Select(r => new ScalarRow { Features = r.Features[0], Label = r.Label }), label: Key(2)), "Single", "Scalar of Single"),
        };
        foreach (var (data, fitFound, schemaFound) in cases)
        {
            foreach (var trainer in new[] { Positional(ml), Trainers(ml).HyperSparseClassification(Quick()) })
            {
                var fit = FitFails<ArgumentOutOfRangeException>(ml, trainer, data);
                Assert.AreEqual("FeatureColumnName", fit.ParamName);
                Mentions(fit, "Schema mismatch for feature column 'Features': expected a vector of Single", $"got {fitFound}.");
                var schema = SchemaFails(trainer, data);
                Mentions(schema, "Schema mismatch for feature column 'Features': expected a known-size vector of Single", $"got {schemaFound}.");
            }
        }
    }

    [TestMethod]
    public void Fit_VectorSizeUnknownWithoutImageShape_NamesTheMissingOptions()
    {
        var ml = new MLContext();
        var variable = Load(ml, Rows(4), label: Key(2)); // float[] without a VectorType: size unknown
        var flat = Load(ml, Rows(4), Flat16, Key(2));
        const string Expected = "Schema mismatch for feature column 'Features': expected Vector<Single, C, H, W> (ExtractPixels) or a flat vector together with the options ImageChannels, ImageHeight and ImageWidth, got ";

        foreach (var trainer in new[] { Positional(ml), Trainers(ml).HyperSparseClassification(Quick()) })
        {
            Mentions(FitFails<ArgumentOutOfRangeException>(ml, trainer, variable),
                Expected + "a vector of unknown size (Vector<Single>) with ImageChannels, ImageHeight, ImageWidth not set.");
            Mentions(SchemaFails(trainer, variable),
                "Schema mismatch for feature column 'Features': expected a known-size vector of Single, got VariableVector of Single.");
            // A known size is not a shape: without C, H, W nothing says how to cut 16 values into an image.
            Mentions(FitFails<ArgumentOutOfRangeException>(ml, trainer, flat),
                Expected + "a vector of 16 values (Vector<Single, 16>) with ImageChannels, ImageHeight, ImageWidth not set.");
        }
        var partly = Trainers(ml).HyperSparseClassification(Quick(o => { o.ImageChannels = 1; o.ImageWidth = 4; }));
        Mentions(FitFails<ArgumentOutOfRangeException>(ml, partly, flat), Expected + "a vector of 16 values (Vector<Single, 16>) with ImageHeight not set.");
    }

    [TestMethod]
    public void Fit_FlatVectorSizeIsNotImageShape_NamesShapeOptionsAndSize()
    {
        var ml = new MLContext();
        var trainer = Trainers(ml).HyperSparseClassification(Quick(o => (o.ImageChannels, o.ImageHeight, o.ImageWidth) = (1, 5, 5)));
        var ex = FitFails<ArgumentOutOfRangeException>(ml, trainer, Load(ml, Rows(4), Flat16, Key(2)));
        Assert.AreEqual("FeatureColumnName", ex.ParamName);
        Mentions(ex, "Schema mismatch for feature column 'Features': expected a vector of 25 values (ImageChannels 1 × ImageHeight 5 × ImageWidth 5), got a vector of 16 values (Vector<Single, 16>).");

        // A flat vector of unknown size cannot be checked against the shape before reading, so it is refused too.
        Mentions(FitFails<ArgumentOutOfRangeException>(ml, trainer, Load(ml, Rows(4), label: Key(2))),
            "expected a vector of 25 values (ImageChannels 1 × ImageHeight 5 × ImageWidth 5), got a vector of unknown size (Vector<Single>).");
    }

    [TestMethod]
    public void Fit_ValidationSetShapeDiffers_NamesValidationSetAndBothShapes()
    {
        var ml = new MLContext();
        var validation = Load(ml, Rows(4, size: 25), new VectorDataViewType(NumberDataViewType.Single, 1, 5, 5), Key(2));
        var trainer = Trainers(ml).HyperSparseClassification(Quick(o => o.ValidationSet = validation));
        var ex = FitFails<ArgumentOutOfRangeException>(ml, trainer, Good(ml));
        Assert.AreEqual("ValidationSet", ex.ParamName);
        Mentions(ex, "Option 'ValidationSet': Schema mismatch for feature column 'Features': expected 1×4×4 images like the training data, got 1×5×5.");

        // Flat vectors: the shape options give 16 values, the validation set has 25 — known at the catalog call.
        var flatValidation = Load(ml, Rows(4, size: 25), new VectorDataViewType(NumberDataViewType.Single, 25), Key(2));
        ex = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => Trainers(ml).HyperSparseClassification(
            Quick(o => { (o.ImageChannels, o.ImageHeight, o.ImageWidth) = (1, 4, 4); o.ValidationSet = flatValidation; })));
        Assert.AreEqual("ValidationSet", ex.ParamName);
        Mentions(ex, "Option 'ValidationSet': Schema mismatch for feature column 'Features': expected a vector of 16 values (ImageChannels 1 × ImageHeight 4 × ImageWidth 4), got a vector of 25 values (Vector<Single, 25>).");

        // A validation set without the label column is refused at the catalog call as well.
        var good = Good(ml);
        var unlabeled = ml.Transforms.SelectColumns("Features").Fit(good).Transform(good);
        ex = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => Trainers(ml).HyperSparseClassification(Quick(o => o.ValidationSet = unlabeled)));
        Mentions(ex, "Option 'ValidationSet': Label column 'Label' not found: expected a column named 'Label' (option LabelColumnName), found columns 'Features'.");
    }

    [TestMethod]
    public void Fit_ValidationLabelKeysDiffer_NamesBothKeySets()
    {
        var ml = new MLContext();
        IDataView Keyed(string[] keys, params string[] labels) =>
            ml.Transforms.Conversion.MapValueToKey("Label", "LabelText", keyData: ml.Data.LoadFromEnumerable(keys.Select(k => new KeyName { Value = k })))
                .Fit(Load(ml, new[] { new TextRow { Features = Pixels(0), LabelText = keys[0] } }, Chw1x4x4))
                .Transform(Load(ml, labels.Select((l, i) => new TextRow { Features = Pixels(i), LabelText = l }), Chw1x4x4));
        var train = Keyed(new[] { "cat", "dog" }, "cat", "dog", "cat", "dog");
        // Mapped by its own MapValueToKey: "dog" got key 1 there, so its keys would silently mean other classes.
        var validation = Keyed(new[] { "dog", "cat" }, "dog", "cat");
        var trainer = Trainers(ml).HyperSparseClassification(Quick(o => o.ValidationSet = validation));
        var ex = FitFails<ArgumentOutOfRangeException>(ml, trainer, train);
        Assert.AreEqual("ValidationSet", ex.ParamName);
        Mentions(ex, "Option 'ValidationSet': Schema mismatch for label column 'Label': expected the training label's 2 key values [cat, dog], got 2 [dog, cat].");
    }

    [TestMethod]
    public void Fit_LabelNotKey_NamesTheColumnAndItsType()
    {
        var ml = new MLContext();
        var cases = new (IDataView Data, string Found)[]
        {
            (Load(ml, Rows(4).Select(r => new FloatLabelRow { Features = r.Features, Label = r.Label }), Chw1x4x4), "Single"),
            (Load(ml, Rows(4).Select(r => new StringLabelRow { Features = r.Features, Label = r.Label.ToString(CultureInfo.InvariantCulture) }), Chw1x4x4), "String"),
        };
        foreach (var (data, found) in cases)
        {
            foreach (var trainer in new[] { Positional(ml), Trainers(ml).HyperSparseClassification(Quick()) })
            {
                foreach (var ex in new[] { FitFails<ArgumentOutOfRangeException>(ml, trainer, data), SchemaFails(trainer, data) })
                {
                    Assert.AreEqual("LabelColumnName", ex.ParamName);
                    Mentions(ex, $"Schema mismatch for label column 'Label': expected a key type (use MapValueToKey), got {found}.");
                }
            }
        }
    }

    [TestMethod]
    public void Fit_LabelKeyHasOneClass_NamesTheColumnAndTheCount()
    {
        var ml = new MLContext();
        var data = Load(ml, Enumerable.Range(0, 4).Select(i => new TextRow { Features = Pixels(i), LabelText = "cat" }), Chw1x4x4);
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label", "LabelText").Append(Trainers(ml).HyperSparseClassification(Quick()));
        var ex = FitFails<ArgumentOutOfRangeException>(ml, pipeline, data);
        Assert.AreEqual("LabelColumnName", ex.ParamName);
        Mentions(ex, "Schema mismatch for label column 'Label': expected a key type with at least 2 classes, got Key<UInt32, 0-0> with 1 class.");
    }

    // ---- data: thrown while reading rows, before the first epoch ----

    [TestMethod]
    public void Fit_EmptyData_SaysNoRows()
    {
        var ml = new MLContext();
        var empty = Load(ml, new List<Row>(), Chw1x4x4, Key(2));
        foreach (var trainer in new[] { Positional(ml), Trainers(ml).HyperSparseClassification(Quick()) })
        {
            Mentions(FitFails<InvalidOperationException>(ml, trainer, empty),
                "The training data has no rows: expected at least 1 row with feature column 'Features' and label column 'Label', found 0.");
        }
        var withEmptyValidation = Trainers(ml).HyperSparseClassification(Quick(o => o.ValidationSet = empty));
        Mentions(FitFails<InvalidOperationException>(ml, withEmptyValidation, Good(ml)),
            "The validation data has no rows: expected at least 1 row with feature column 'Features' and label column 'Label', found 0.");
    }

    [TestMethod]
    public void Fit_OnlyOneOfKClassesPresent_NamesTheClassAndTheKeyCount()
    {
        var ml = new MLContext();
        var keys = ml.Data.LoadFromEnumerable(new[] { "cat", "dog", "bird" }.Select(k => new KeyName { Value = k }));
        var data = Load(ml, Enumerable.Range(0, 8).Select(i => new TextRow { Features = Pixels(i), LabelText = "dog" }), Chw1x4x4);
        foreach (var trainer in new[] { Positional(ml), Trainers(ml).HyperSparseClassification(Quick()) })
        {
            var pipeline = ml.Transforms.Conversion.MapValueToKey("Label", "LabelText", keyData: keys).Append(trainer);
            Mentions(FitFails<InvalidOperationException>(ml, pipeline, data),
                "Label column 'Label' has 1 class present in the training data ('dog' in all 8 rows); expected at least 2 of its 3 key values.");
        }

        // A byte-backed key (KeyType over byte) is read too, and gets the same check.
        var bytes = Load(ml, Enumerable.Range(0, 5).Select(i => new ByteKeyRow { Features = Pixels(i), Label = 1 }), Chw1x4x4, new KeyDataViewType(typeof(byte), 3));
        Mentions(FitFails<InvalidOperationException>(ml, Trainers(ml).HyperSparseClassification(Quick()), bytes),
            "Label column 'Label' has 1 class present in the training data ('1' in all 5 rows); expected at least 2 of its 3 key values.");
    }

    [TestMethod]
    public void Fit_LabelMissingValue_NamesRowAndKeyRange()
    {
        var ml = new MLContext();
        var keys = ml.Data.LoadFromEnumerable(new[] { "cat", "dog" }.Select(k => new KeyName { Value = k }));
        var data = Load(ml, new[] { "cat", "dog", "cat", "bird" }.Select((l, i) => new TextRow { Features = Pixels(i), LabelText = l }), Chw1x4x4);
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label", "LabelText", keyData: keys).Append(Trainers(ml).HyperSparseClassification(Quick()));
        Mentions(FitFails<InvalidOperationException>(ml, pipeline, data),
            "Training row 3: label column 'Label' must hold a key in 1..2; found 0 (key 0 is a missing value");
    }

    [TestMethod]
    [DataRow(float.NaN, "NaN")]
    [DataRow(float.PositiveInfinity, "+Infinity")]
    [DataRow(float.NegativeInfinity, "-Infinity")]
    public void Fit_NonFiniteFeature_NamesRowIndexAndValue(float bad, string found)
    {
        var ml = new MLContext();
        var rows = Rows(8);
        rows[2].Features[5] = bad;
        var data = Load(ml, rows, Chw1x4x4, Key(2));
        foreach (var trainer in new[] { Positional(ml), Trainers(ml).HyperSparseClassification(Quick()) })
        {
            Mentions(FitFails<InvalidOperationException>(ml, trainer, data),
                $"Training row 2: feature column 'Features' has {found} at index 5; expected finite numbers.");
        }
        var withBadValidation = Trainers(ml).HyperSparseClassification(Quick(o => o.ValidationSet = Load(ml, rows.Skip(1), Chw1x4x4, Key(2))));
        Mentions(FitFails<InvalidOperationException>(ml, withBadValidation, Good(ml)),
            $"Validation row 1: feature column 'Features' has {found} at index 5; expected finite numbers.");
    }

    public sealed class PathRow
    {
        public string ImagePath { get; set; } = "";
        public string LabelText { get; set; } = "";
    }

    [TestMethod]
    [DataRow("empty")]
    [DataRow("text")]
    public void Fit_ImageFileThatDoesNotDecode_NamesTheRowAndTheFile(string kind)
    {
        // ML.NET's LoadImages fails on such a file with "Invalid input stream contents" and no file name; Fit names both.
        var dir = Path.Combine(Path.GetTempPath(), "hs-badimage-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            var rows = new List<PathRow>();
            for (var i = 0; i < 8; i++)
            {
                var path = Path.Combine(dir, $"{i}.png");
                using (var bitmap = new SkiaSharp.SKBitmap(6, 6))
                {
                    bitmap.Erase(new SkiaSharp.SKColor((byte)(i % 2 * 200 + i), 0, 0));
                    using var stream = File.Create(path);
                    bitmap.Encode(stream, SkiaSharp.SKEncodedImageFormat.Png, 100);
                }
                rows.Add(new PathRow { ImagePath = path, LabelText = i % 2 == 0 ? "dark" : "red" });
            }
            var bad = Path.Combine(dir, "bad.png");
            if (kind == "empty") File.WriteAllBytes(bad, Array.Empty<byte>());
            else File.WriteAllText(bad, "not a picture");
            rows.Insert(5, new PathRow { ImagePath = bad, LabelText = "red" });

            var ml = new MLContext(seed: 1);
            var data = ml.Data.LoadFromEnumerable(rows);
            var pipeline = ml.Transforms.Conversion.MapValueToKey("Label", "LabelText")
                .Append(ml.Transforms.LoadImages("Image", null, "ImagePath"))
                .Append(ml.Transforms.ResizeImages("Image", 4, 4))
                .Append(ml.Transforms.ExtractPixels("Features", "Image"))
                .Append(Trainers(ml).HyperSparseClassification(Quick()));
            Mentions(FitFails<InvalidOperationException>(ml, pipeline, data),
                $"Training row 5 (ImagePath = '{bad}', LabelText = 'red') could not be read into feature column 'Features': ",
                "Invalid input stream contents",
                "Fix or remove that input");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [TestMethod]
    public void Fit_CropPaddingAboveHalfTheImage_NamesTheImageSizeAndTheLargestPadding()
    {
        // 8×8 images: a padding of 5 lets a crop keep only 3 of 8 pixels along a side; 4 = ⌊8 / 2⌋ is the largest allowed.
        var ml = new MLContext(seed: 1);
        var data = Load(ml, Rows(16, size: 64), new VectorDataViewType(NumberDataViewType.Single, 1, 8, 8), Key(2));
        var ex = FitFails<ArgumentOutOfRangeException>(ml, Trainers(ml).HyperSparseClassification(Quick(o => { o.CropPadding = 5; o.NumberOfThreads = 1; })), data);
        Assert.AreEqual("CropPadding", ex.ParamName);
        Mentions(ex, "Option 'CropPadding' must be at most 4 (⌊min(height, width) / 2⌋ for the 8×8 images of feature column 'Features', " +
                     "so that every random crop keeps at least half of the image's height and width); found 5.");

        // Non-square: the smaller side decides (8×6 → 3).
        var wide = Load(ml, Rows(16, size: 48), new VectorDataViewType(NumberDataViewType.Single, 1, 8, 6), Key(2));
        Mentions(FitFails<ArgumentOutOfRangeException>(ml, Trainers(ml).HyperSparseClassification(Quick(o => { o.CropPadding = 4; o.NumberOfThreads = 1; })), wide),
            "Option 'CropPadding' must be at most 3 (⌊min(height, width) / 2⌋ for the 8×6 images", "found 4.");

        var model = Trainers(ml).HyperSparseClassification(Quick(o => { o.CropPadding = 4; o.NumberOfThreads = 1; })).Fit(data);
        Assert.AreEqual(16, model.Transform(data).GetColumn<float[]>("Score").Count());
    }

    [TestMethod]
    public void Fit_PruningRateThatKeepsNoWeight_NamesPruningRateBeforeTheFirstEpoch()
    {
        // The MLP on 1×4×4 images with 2 classes has N = 16·300 + 300·100 + 100·2 = 35,000 prunable weights;
        // κ = 0.99999 gives ⌊κN⌋ = 34,999 = N − 1, so the strict rule would keep none.
        var ml = new MLContext(seed: 1);
        var epochs = new List<string>();
        ml.Log += (_, e) => { if (e.Message.Contains(" epoch ", StringComparison.Ordinal)) lock (epochs) epochs.Add(e.Message); };
        var trainer = Trainers(ml).HyperSparseClassification(Quick(o => { o.PruningRate = 0.99999; o.NumberOfThreads = 1; }));
        var ex = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => trainer.Fit(Good(ml)));
        Assert.AreEqual("PruningRate", ex.ParamName);
        Mentions(ex, "The pruning rate κ = 0.99999 keeps 0 of 35,000 prunable weights", "expected κ < (N − 1)/N = 34,999/35,000, i.e. κ ≤ 0.9999");
        Assert.IsEmpty(epochs, "no epoch ran:\n" + string.Join("\n", epochs));
    }

    [TestMethod]
    public void Fit_LearningRate1e30_ThrowsTrainingDivergedInTheFirstWarmupEpoch()
    {
        var ml = new MLContext(seed: 1);
        var trainer = Trainers(ml).HyperSparseClassification(Quick(o => { o.LearningRate = 1e30; o.BatchSize = 4; o.NumberOfThreads = 1; }));
        var ex = Assert.ThrowsExactly<HyperSparseTrainingDivergedException>(() => trainer.Fit(Good(ml, 32)));
        Assert.AreEqual(1, ex.Epoch);
        Assert.AreEqual(HyperSparseTrainingPhase.Warmup, ex.Phase);
        Assert.AreEqual(1e30, ex.LearningRate);
        Assert.AreEqual(0.0, ex.Lambda);
        Mentions(ex, "Training diverged in epoch 1 (Warmup): ", "Lower LearningRate (now 1e+30).");
    }

    [TestMethod]
    public void Fit_LambdaGrowth1e300_ThrowsTrainingDivergedDuringArtNamingLambda()
    {
        var ml = new MLContext(seed: 1);
        var trainer = Trainers(ml).HyperSparseClassification(Quick(o =>
        {
            (o.LambdaInit, o.LambdaGrowth, o.MaxArtEpochs) = (1e-3, 1e300, 3);
            o.NumberOfThreads = 1;
        }));
        var ex = Assert.ThrowsExactly<HyperSparseTrainingDivergedException>(() => trainer.Fit(Good(ml)));
        Assert.AreEqual(HyperSparseTrainingPhase.Art, ex.Phase);
        Assert.AreEqual(3, ex.Epoch, "warm-up epoch 1, ART epoch 1 at λ = 1e-3, then ART epoch 2 at λ = 1e297 is refused");
        Assert.AreEqual("λ", ex.Quantity);
        Assert.AreEqual(1e297, ex.Lambda, 1e282);
        Mentions(ex, "λ of ART epoch 2 is 1e+297", "Lower LambdaInit (now 0.001) or LambdaGrowth (now 1e+300)");
    }

    // ---- the control: the same helpers' good data passes every check and trains ----

    [TestMethod]
    public void Fit_GoodTinyData_PassesEveryCheckAndTrains()
    {
        var ml = new MLContext(seed: 1);
        var log = new List<string>();
        ml.Log += (_, e) => { if (e.Message.Contains("HyperSparse", StringComparison.Ordinal)) lock (log) log.Add(e.Message); };
        var flat = Load(ml, Rows(32), Flat16, Key(2));
        var trainer = Trainers(ml).HyperSparseClassification(Quick(o =>
        {
            (o.ImageChannels, o.ImageHeight, o.ImageWidth) = (1, 4, 4);
            o.ValidationSet = Load(ml, Rows(8), Flat16, Key(2));
        }));
        Assert.IsTrue(trainer.GetOutputSchema(ShapeOf(flat.Schema)).Any(c => c.Name == "Score"));
        var model = trainer.Fit(flat);
        Assert.AreEqual(32, model.Transform(flat).GetColumn<float[]>("Score").Count());
        Assert.IsTrue(log.Any(l => l.Contains(" epoch ", StringComparison.Ordinal)), "training ran:\n" + string.Join("\n", log));
    }
}
