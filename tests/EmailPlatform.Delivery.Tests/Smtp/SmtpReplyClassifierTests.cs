using EmailPlatform.Delivery.Smtp;

namespace EmailPlatform.Delivery.Tests.Smtp;

public sealed class SmtpReplyClassifierTests
{
    [Theory]
    [InlineData(250, "2.0.0 Ok: queued as 4F1A2B", "Delivered")]
    [InlineData(250, "Ok", "Delivered")]
    [InlineData(451, "4.7.1 Greylisted, try again later", "Deferred")]
    [InlineData(550, "5.1.1 <bob@example.com>: Recipient address rejected: User unknown", "Bounced")]
    [InlineData(554, "4.4.7 Message expired in queue", "Bounced")]
    [InlineData(421, "Service not available, closing transmission channel", "Deferred")]
    [InlineData(552, "Requested mail action aborted: exceeded storage allocation", "Bounced")]
    [InlineData(0, "garbage", "Deferred")]
    [InlineData(999, "", "Deferred")]
    [InlineData(354, "Start mail input", "Deferred")]
    [InlineData(550, "2.0.0 Ok", "Bounced")]
    [InlineData(451, "2.0.0 Ok", "Deferred")]
    [InlineData(451, "5.7.1 Policy", "Deferred")]
    [InlineData(452, "5.2.2 Mailbox full", "Deferred")]
    [InlineData(450, "5.1.1 User unknown", "Deferred")]
    [InlineData(250, "5.0.0 Odd but accepted", "Delivered")]
    [InlineData(250, "4.0.0 Odd but accepted", "Delivered")]
    [InlineData(354, "2.0.0 Go ahead", "Deferred")]
    [InlineData(199, "2.0.0", "Deferred")]
    public void RepliesAreClassifiedByTheirReplyCodeWhateverTheEnhancedCodeSays(int code, string text, string expected)
    {
        var reply = SmtpReplyClassifier.ToReply(code, text);

        Assert.Equal(Enum.Parse<RecipientOutcomeKind>(expected), SmtpReplyClassifier.Classify(reply));
    }

    [Theory]
    [InlineData(550, "2.1.5 Recipient ok")]
    [InlineData(421, "2.0.0 Bye")]
    [InlineData(554, "2.6.0 Queued")]
    public void NonSuccessReplyCodeIsNeverDeliveredWhateverItsEnhancedCodeSays(int code, string text) =>
        Assert.NotEqual(RecipientOutcomeKind.Delivered, SmtpReplyClassifier.Classify(SmtpReplyClassifier.ToReply(code, text)));

    [Theory]
    [InlineData("5.1.1 User unknown", "5.1.1")]
    [InlineData("4.7.1 Greylisted", "4.7.1")]
    [InlineData("2.0.0", "2.0.0")]
    [InlineData("  5.7.26 Unauthenticated email", "5.7.26")]
    [InlineData("4.123.456 long parts", "4.123.456")]
    [InlineData("Ok: queued as 5.1.1", null)]
    [InlineData("3.1.1 wrong class", null)]
    [InlineData("5.1.1234 too many digits", null)]
    [InlineData("5.1 too few parts", null)]
    [InlineData("", null)]
    public void EnhancedCodeIsReadOnlyFromTheStartOfTheReplyText(string text, string? expected)
    {
        Assert.Equal(expected, SmtpReplyClassifier.ParseEnhancedCode(text));
    }

    [Fact]
    public void ReplyKeepsTheWholeTrimmedTextAndTheParsedEnhancedCode()
    {
        var reply = SmtpReplyClassifier.ToReply(550, " 5.1.1 User unknown \r\n");

        Assert.Equal(550, reply.Code);
        Assert.Equal("5.1.1", reply.EnhancedCode);
        Assert.Equal("5.1.1 User unknown", reply.Text);
    }
}
