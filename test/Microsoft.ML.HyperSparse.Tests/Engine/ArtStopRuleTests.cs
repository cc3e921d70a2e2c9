using Microsoft.ML.HyperSparse.Engine.Training;

namespace Microsoft.ML.HyperSparse.Tests.Engine;

/// <summary>
/// Spec §2.1 step 4–5: FIFO window of 2m+1 pruned train accuracies; when mean(window) &gt; best's single accuracy, best :=
/// window[min(len − 1, m)] and remembers the mean; stop when that remembered mean &gt; the dense running train accuracy.
/// </summary>
[TestClass]
public sealed class ArtStopRuleTests
{
    private static ArtStopRule<string>.Entry E(int epoch, double accuracy) => new(epoch, accuracy, $"model{epoch}");

    [TestMethod]
    public void ArtStopRule_Push_SelectsOnlyThenNewestThenCentre()
    {
        var rule = new ArtStopRule<string>(1);
        var (e0, e1, e2, e3) = (E(0, 50), E(1, 60), E(2, 80), E(3, 90));

        rule.Push(e0, 99); // [50] mean 50 > 0 → best = window[min(0,1)] = e0
        Assert.AreSame(e0, rule.Best);
        Assert.AreEqual(50, rule.BestWindowMean, 1e-12);

        rule.Push(e1, 99); // [50,60] mean 55 > 50 → best = window[min(1,1)] = e1, the newest
        Assert.AreSame(e1, rule.Best);
        Assert.AreEqual(55, rule.BestWindowMean, 1e-12);

        rule.Push(e2, 99); // [50,60,80] mean 63.33 > 60 → best = window[1] = e1, the centre (not the newest e2)
        Assert.AreSame(e1, rule.Best);
        Assert.AreEqual(190.0 / 3, rule.BestWindowMean, 1e-12);

        rule.Push(e3, 99); // [60,80,90] mean 76.67 > 60 → best = centre e2
        Assert.AreSame(e2, rule.Best);
        Assert.AreEqual(230.0 / 3, rule.BestWindowMean, 1e-12);
    }

    [TestMethod]
    public void ArtStopRule_Push_ComparesWindowMeanWithBestsSingleAccuracy()
    {
        var rule = new ArtStopRule<string>(1);
        var (e0, e1, e2, e3) = (E(0, 5), E(1, 1), E(2, 30), E(3, 2));
        rule.Push(e0, 100); // [5] mean 5 > 0 → best e0 (5), mean 5
        rule.Push(e1, 100); // [5,1] mean 3 > 5? no
        Assert.AreSame(e0, rule.Best);
        rule.Push(e2, 100); // [5,1,30] mean 12 > 5 → best = centre e1 (acc 1), mean 12
        Assert.AreSame(e1, rule.Best);
        Assert.AreEqual(12, rule.BestWindowMean, 1e-12);

        rule.Push(e3, 100); // [1,30,2] mean 11 > 1 (e1's own accuracy; not > 12, its mean) → best = centre e2, mean 11
        Assert.AreSame(e2, rule.Best, "the quirk: the window mean is compared with the best's single accuracy");
        Assert.AreEqual(11, rule.BestWindowMean, 1e-12, "the remembered mean can go down");
    }

    [TestMethod]
    public void ArtStopRule_Push_StopsWhenBestWindowMeanExceedsDenseAccuracy()
    {
        var stopAtOnce = new ArtStopRule<string>(1);
        Assert.IsTrue(stopAtOnce.Push(E(0, 80), 70).Stop); // best mean 80 > dense 70

        var rule = new ArtStopRule<string>(1);
        Assert.IsFalse(rule.Push(E(0, 60), 70).Stop);   // best e0, mean 60; 60 > 70? no
        Assert.IsFalse(rule.Push(E(1, 80), 70).Stop);   // [60,80] mean 70 > 60 → best e1, mean 70; 70 > 70? no (equal)
        Assert.IsFalse(rule.Push(E(2, 79), 70).Stop);   // [60,80,79] mean 73 > 80? no → best stays e1 mean 70; 70 > 70? no
        var (stop, _) = rule.Push(E(3, 10), 69.9);      // [80,79,10] mean 56.3 > 80? no; remembered mean 70 > 69.9 → stop
        Assert.IsTrue(stop, "the remembered best mean is checked every epoch, even without a new best");
        Assert.AreEqual(1, rule.Best!.ArtEpoch);
        Assert.AreEqual("model1", rule.Best.Snapshot);
    }

    [TestMethod]
    public void ArtStopRule_Push_EqualMeanAndDenseAccuracyDoesNotStop()
    {
        var rule = new ArtStopRule<string>(1);
        Assert.IsFalse(rule.Push(E(0, 90), 90).Stop);  // mean 90 > 90? no
        Assert.IsFalse(rule.Push(E(1, 90), 90).Stop);  // [90,90] mean 90 > best's 90? no; remembered 90 > 90? no
        Assert.IsTrue(rule.Push(E(2, 90), 89.999).Stop); // remembered 90 > 89.999
    }

    [TestMethod]
    public void ArtStopRule_Push_EvictsOldestOnceWindowIsFull()
    {
        var rule = new ArtStopRule<string>(1);
        var entries = Enumerable.Range(0, 5).Select(i => E(i, 10 + i)).ToArray();
        for (var i = 0; i < 3; i++) Assert.IsEmpty(rule.Push(entries[i], 100).Evicted, $"push {i}: window of 3 not full yet");

        var evicted = rule.Push(entries[3], 100).Evicted; // window [e1,e2,e3]
        Assert.HasCount(1, evicted);
        Assert.AreSame(entries[0], evicted[0]);
        Assert.AreSame(entries[1], rule.Push(entries[4], 100).Evicted.Single());
        CollectionAssert.AreEqual(entries[2..], rule.Window.ToArray());
        Assert.IsFalse(rule.Holds(entries[0]));
        Assert.IsTrue(rule.Holds(entries[4]));
    }

    [TestMethod]
    public void ArtStopRule_Push_HalfSizeZeroUsesSingleEpoch()
    {
        var rule = new ArtStopRule<string>(0);
        Assert.AreEqual(1, rule.WindowSize);
        var (e0, e1, e2) = (E(0, 50), E(1, 40), E(2, 60));
        rule.Push(e0, 100); // [50] → best e0, mean 50
        var evicted = rule.Push(e1, 100).Evicted; // [40] mean 40 > 50? no
        Assert.AreSame(e0, evicted.Single());
        Assert.AreSame(e0, rule.Best);
        Assert.IsTrue(rule.Holds(e0), "the evicted best is still held");
        Assert.IsTrue(rule.Holds(e1), "the window's only entry is held");
        rule.Push(e2, 100); // [60] mean 60 > 50 → best e2
        Assert.AreSame(e2, rule.Best);
        Assert.AreEqual(60, rule.BestWindowMean, 1e-12);
        Assert.IsTrue(rule.Push(E(3, 55), 59).Stop); // [55] not > 60; remembered 60 > 59
    }

    [TestMethod]
    public void ArtStopRule_Push_HalfSizeTwoSelectsIndexMinCountMinusOneAndTwo()
    {
        var rule = new ArtStopRule<string>(2);
        Assert.AreEqual(5, rule.WindowSize);
        var e = new[] { E(0, 10), E(1, 20), E(2, 40), E(3, 100), E(4, 100), E(5, 100) };
        rule.Push(e[0], 1000); // [10] → e0
        Assert.AreSame(e[0], rule.Best);
        rule.Push(e[1], 1000); // [10,20] mean 15 > 10 → index min(1,2) = 1 → e1
        Assert.AreSame(e[1], rule.Best);
        rule.Push(e[2], 1000); // [10,20,40] mean 23.3 > 20 → index min(2,2) = 2 → e2 (the newest, not the centre e1)
        Assert.AreSame(e[2], rule.Best);
        rule.Push(e[3], 1000); // [10,20,40,100] mean 42.5 > 40 → index 2 → e2 (not the newest e3)
        Assert.AreSame(e[2], rule.Best);
        Assert.AreEqual(42.5, rule.BestWindowMean, 1e-12);
        rule.Push(e[4], 1000); // [10,20,40,100,100] mean 54 > 40 → index 2 → e2
        Assert.AreEqual(54, rule.BestWindowMean, 1e-12);
        var (_, evicted) = rule.Push(e[5], 1000); // [20,40,100,100,100] mean 72 > 40 → centre e3
        Assert.AreSame(e[0], evicted.Single());
        Assert.AreSame(e[3], rule.Best);
        Assert.AreEqual(72, rule.BestWindowMean, 1e-12);
    }

    [TestMethod]
    public void ArtStopRule_Restore_RoundTripContinuesIdentically()
    {
        var original = new ArtStopRule<string>(1);
        original.Push(E(0, 5), 100);
        original.Push(E(1, 1), 100);
        original.Push(E(2, 30), 100); // best e1 (acc 1), mean 12
        original.Push(E(3, 2), 100);  // best e2, mean 11; window [e1,e2,e3]

        var restored = new ArtStopRule<string>(1);
        restored.Restore(original.Window.ToList(), original.Best, original.BestWindowMean);
        CollectionAssert.AreEqual(original.Window.ToArray(), restored.Window.ToArray());
        Assert.AreSame(original.Best, restored.Best);
        Assert.AreEqual(original.BestWindowMean, restored.BestWindowMean);

        var stops = new List<bool>();
        foreach (var (next, dense) in new[] { (E(4, 3), 50.0), (E(5, 100), 20.0) })
        {
            var a = original.Push(next, dense);
            var b = restored.Push(next, dense);
            Assert.AreEqual(a.Stop, b.Stop);
            stops.Add(b.Stop);
            CollectionAssert.AreEqual(a.Evicted.ToArray(), b.Evicted.ToArray());
            Assert.AreSame(original.Best, restored.Best);
            Assert.AreEqual(original.BestWindowMean, restored.BestWindowMean);
        }
        // e4: [30,2,3] mean 11.67 > 30? no; 11 > 50? no. e5: [2,3,100] mean 35 > 30 → best = centre e4, mean 35 > 20 → stop.
        CollectionAssert.AreEqual(new[] { false, true }, stops);
        Assert.AreEqual(4, restored.Best!.ArtEpoch);
        Assert.AreEqual(35, restored.BestWindowMean, 1e-12);

        var empty = new ArtStopRule<string>(1);
        empty.Restore(Array.Empty<ArtStopRule<string>.Entry>(), null, 0);
        Assert.IsNull(empty.Best);
        Assert.IsEmpty(empty.Window);
    }

    [TestMethod]
    public void ArtStopRule_Constructor_RejectsNegativeHalfSize()
    {
        var ex = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new ArtStopRule<string>(-1));
        Assert.AreEqual("windowHalfSize", ex.ParamName);
        Assert.AreEqual(3, new ArtStopRule<string>(1).WindowSize);
        Assert.IsNull(new ArtStopRule<string>(1).Best);
    }
}
