using EmailPlatform.Status.Recording;
using EmailPlatform.Status.Storage;

namespace EmailPlatform.Status.Tests.Recording;

/// <summary>Which event may replace what a recipient shows: the rule that makes any arrival order safe.</summary>
public sealed class SupersedesTests
{
    [Theory]
    [InlineData(EmailState.Delivered)]
    [InlineData(EmailState.Bounced)]
    [InlineData(EmailState.Suppressed)]
    [InlineData(EmailState.Canceled)]
    public void TerminalRecipientNeverChangesEvenForALaterAttempt(EmailState terminal)
    {
        var recipient = Recipient(terminal, attempt: 1);

        Assert.False(StatusRecorder.Supersedes(recipient, EmailState.Deferred, 2));
        Assert.False(StatusRecorder.Supersedes(recipient, EmailState.Delivered, 2));
        Assert.False(StatusRecorder.Supersedes(recipient, EmailState.Bounced, 1));
    }

    [Fact]
    public void FailedRecipientGivesWayOnlyToTheAttemptsOfARetry()
    {
        var failed = Recipient(EmailState.Failed, attempt: 9);

        // The operator's retry (POST /v1/bulk/retry): the workers go on from attempt 10.
        Assert.True(StatusRecorder.Supersedes(failed, EmailState.Deferred, 10));
        Assert.True(StatusRecorder.Supersedes(failed, EmailState.Delivered, 10));

        // Anything from the attempt that failed, or before it, is late.
        Assert.False(StatusRecorder.Supersedes(failed, EmailState.Deferred, 9));
        Assert.False(StatusRecorder.Supersedes(failed, EmailState.Delivered, 9));
        Assert.False(StatusRecorder.Supersedes(failed, EmailState.Deferred, 3));
    }

    [Fact]
    public void FailedRecipientGivesWayToASuppressionFoundByARetry()
    {
        var failed = Recipient(EmailState.Failed, attempt: 3);

        Assert.True(StatusRecorder.Supersedes(failed, EmailState.Suppressed, 4));
        Assert.False(StatusRecorder.Supersedes(failed, EmailState.Suppressed, 3));
    }

    [Fact]
    public void ABounceReportedAfterTheRelayTookTheMessageReplacesDeliveredOnly()
    {
        Assert.True(StatusRecorder.Supersedes(Recipient(EmailState.Delivered, attempt: 2), EmailState.Bounced, 2, reportedBounce: true));
        Assert.True(StatusRecorder.Supersedes(Recipient(EmailState.Deferred, attempt: 2), EmailState.Bounced, 2, reportedBounce: true));

        // A relay's own 5xx, late or not, still leaves delivered alone; and a report changes no other final state.
        Assert.False(StatusRecorder.Supersedes(Recipient(EmailState.Delivered, attempt: 2), EmailState.Bounced, 2));
        foreach (var final in new[] { EmailState.Bounced, EmailState.Failed, EmailState.Suppressed, EmailState.Canceled })
        {
            Assert.False(StatusRecorder.Supersedes(Recipient(final, attempt: 2), EmailState.Bounced, 2, reportedBounce: true));
        }
    }

    [Fact]
    public void HigherAttemptWinsEvenWithLessProgress() =>
        Assert.True(StatusRecorder.Supersedes(Recipient(EmailState.Deferred, attempt: 1), EmailState.Sending, 2));

    [Fact]
    public void SameAttemptOnlyAdvances()
    {
        var deferred = Recipient(EmailState.Deferred, attempt: 2);

        Assert.True(StatusRecorder.Supersedes(deferred, EmailState.Delivered, 2));
        Assert.False(StatusRecorder.Supersedes(deferred, EmailState.Deferred, 2));
        Assert.False(StatusRecorder.Supersedes(deferred, EmailState.Sending, 2));
    }

    [Fact]
    public void PendingStateFromALowerAttemptIsIgnored()
    {
        var deferred = Recipient(EmailState.Deferred, attempt: 3);

        Assert.False(StatusRecorder.Supersedes(deferred, EmailState.Deferred, 2));
        Assert.False(StatusRecorder.Supersedes(deferred, EmailState.Sending, 2));
    }

    [Theory]
    [InlineData(EmailState.Delivered)]
    [InlineData(EmailState.Bounced)]
    [InlineData(EmailState.Failed)]
    public void FinalStateReportedLateStillReplacesAPendingOne(EmailState final) =>
        Assert.True(StatusRecorder.Supersedes(Recipient(EmailState.Deferred, attempt: 3), final, 2));

    [Fact]
    public void FirstOutcomeReplacesAFreshRecipient() =>
        Assert.True(StatusRecorder.Supersedes(new RecipientRecord { Address = "a@example.com" }, EmailState.Deferred, 1));

    private static RecipientRecord Recipient(EmailState state, int attempt) =>
        new() { Address = "alice@example.com", State = state, Attempt = attempt };
}
