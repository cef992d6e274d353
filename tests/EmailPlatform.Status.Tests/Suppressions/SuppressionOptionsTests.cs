using EmailPlatform.Status.Suppressions;

namespace EmailPlatform.Status.Tests.Suppressions;

/// <summary>Which enhanced codes of a bounce suppress its address, by <c>Status:Suppression:HardBounceCodes</c>.</summary>
public sealed class SuppressionOptionsTests
{
    [Theory]
    [InlineData(null, "5.1.1", true)]
    [InlineData(null, "5.1.10", true)]
    [InlineData(null, "5.1.8", false)]
    [InlineData(null, "5.7.1", false)]
    [InlineData(null, null, false)]
    [InlineData("5.1", "5.1.1", true)]
    [InlineData("5.1", "5.1.6", true)]
    [InlineData("5.1", "5.10.1", false)]
    // The sender's address codes: a relay refusing our sender's domain answers them for every recipient.
    [InlineData("5.1", "5.1.7", false)]
    [InlineData("5.1", "5.1.8", false)]
    [InlineData("5.1.8", "5.1.8", true)]
    [InlineData("5.1,5.1.7", "5.1.7", true)]
    [InlineData("5.2", "5.2.2", true)]
    [InlineData("5.2", "5.1.8", false)]
    public void AClassEntryTakesInEveryDetailButTheSendersAddress(string? codes, string? enhancedCode, bool suppresses)
    {
        var options = new SuppressionOptions { HardBounceCodes = codes?.Split(',') };

        Assert.Equal(suppresses, options.Suppresses(enhancedCode));
    }
}
