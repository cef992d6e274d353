using EmailPlatform.ServiceDefaults.Suppressions;

namespace EmailPlatform.Delivery.Tests.Suppressions;

public sealed class SuppressionFilterTests
{
    [Fact]
    public void EveryAddressAddedIsHeldAndFewOthersSeemToBe()
    {
        var filter = SuppressionFilter.ForAddresses(20_000);
        for (var i = 0; i < 20_000; i++)
        {
            filter.Add($"suppressed{i}@example.com");
        }

        Assert.All(Enumerable.Range(0, 20_000), i => Assert.True(filter.MightContain($"suppressed{i}@example.com")));
        var falsePositives = Enumerable.Range(0, 100_000).Count(i => filter.MightContain($"reader{i}@example.net"));
        Assert.InRange(falsePositives, 0, 2_000); // ten bits and seven hashes an address: about 0.8%
        Assert.Equal(20_000, filter.Count);
    }

    [Fact]
    public void AFilterReadBackFromItsBytesAnswersTheSame()
    {
        var filter = SuppressionFilter.ForAddresses(3);
        filter.Add("gone@example.com");
        filter.Add("jörg@bücher.example");
        filter.Add(new string('x', 2000) + "@example.com");

        var read = SuppressionFilter.Read(filter.ToBytes());

        Assert.NotNull(read);
        Assert.Equal((3, filter.ByteCount), (read.Count, read.ByteCount));
        Assert.True(read.MightContain("gone@example.com"));
        Assert.True(read.MightContain("jörg@bücher.example"));
        Assert.True(read.MightContain(new string('x', 2000) + "@example.com"));
        Assert.Equal(
            Enumerable.Range(0, 1000).Select(i => filter.MightContain($"r{i}@example.org")),
            Enumerable.Range(0, 1000).Select(i => read.MightContain($"r{i}@example.org")));
    }

    [Fact]
    public void AnEmptyListMakesASmallFilterThatHoldsNothing()
    {
        var filter = SuppressionFilter.ForAddresses(0);

        Assert.InRange(filter.ByteCount, 24, 1024);
        Assert.DoesNotContain(Enumerable.Range(0, 1000), i => filter.MightContain($"r{i}@example.org"));
    }

    [Theory]
    [InlineData("")]
    [InlineData("not a filter at all, just text")]
    public void BytesThatAreNoFilterAreRefused(string text) =>
        Assert.Null(SuppressionFilter.Read(System.Text.Encoding.UTF8.GetBytes(text)));

    [Fact]
    public void ATruncatedOrAlteredHeaderIsRefused()
    {
        var bytes = SuppressionFilter.ForAddresses(100).ToBytes();

        Assert.Null(SuppressionFilter.Read(bytes.AsSpan(0, bytes.Length - 8)));
        var otherVersion = (byte[])bytes.Clone();
        otherVersion[4] = 2;
        Assert.Null(SuppressionFilter.Read(otherVersion));
        var otherHashes = (byte[])bytes.Clone();
        otherHashes[5] = 3;
        Assert.Null(SuppressionFilter.Read(otherHashes));
    }
}
