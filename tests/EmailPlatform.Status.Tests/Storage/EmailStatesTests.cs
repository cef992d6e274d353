using EmailPlatform.Status.Storage;

namespace EmailPlatform.Status.Tests.Storage;

public sealed class EmailStatesTests
{
    [Theory]
    [InlineData(EmailState.Scheduled, "scheduled")]
    [InlineData(EmailState.Queued, "queued")]
    [InlineData(EmailState.Sending, "queued")]
    [InlineData(EmailState.Deferred, "delivery_delayed")]
    [InlineData(EmailState.Delivered, "delivered")]
    [InlineData(EmailState.Bounced, "bounced")]
    [InlineData(EmailState.Failed, "failed")]
    [InlineData(EmailState.Suppressed, "suppressed")]
    [InlineData(EmailState.Canceled, "canceled")]
    public void LastEventUsesResendVocabulary(EmailState state, string lastEvent) =>
        Assert.Equal(lastEvent, state.ToLastEvent());

    [Theory]
    [InlineData(EmailState.Scheduled, false)]
    [InlineData(EmailState.Queued, false)]
    [InlineData(EmailState.Sending, false)]
    [InlineData(EmailState.Deferred, false)]
    [InlineData(EmailState.Delivered, true)]
    [InlineData(EmailState.Bounced, true)]
    [InlineData(EmailState.Failed, true)]
    [InlineData(EmailState.Suppressed, true)]
    [InlineData(EmailState.Canceled, true)]
    public void OnlyOutcomesThatEndDeliveryAreTerminal(EmailState state, bool terminal) =>
        Assert.Equal(terminal, state.IsTerminal());

    [Fact]
    public void EmailWithoutKnownRecipientsIsQueued() =>
        Assert.Equal(EmailState.Queued, EmailStates.Derive([]));

    [Fact]
    public void EmailIsDeliveredWhenEveryRecipientIsDelivered() =>
        Assert.Equal(EmailState.Delivered, EmailStates.Derive([EmailState.Delivered, EmailState.Delivered, EmailState.Delivered]));

    [Fact]
    public void OneBounceAmongDeliveriesMakesTheEmailBounced() =>
        Assert.Equal(EmailState.Bounced, EmailStates.Derive([EmailState.Delivered, EmailState.Bounced, EmailState.Delivered]));

    [Fact]
    public void BounceOutranksFailureWhenBothHappened() =>
        Assert.Equal(EmailState.Bounced, EmailStates.Derive([EmailState.Failed, EmailState.Delivered, EmailState.Bounced]));

    [Fact]
    public void DeferredRecipientMakesTheEmailDeferredWhileOthersArePending() =>
        Assert.Equal(EmailState.Deferred, EmailStates.Derive([EmailState.Queued, EmailState.Deferred, EmailState.Sending]));

    [Fact]
    public void EmailIsNotFinalWhileAnyRecipientIsPending() =>
        Assert.Equal(EmailState.Deferred, EmailStates.Derive([EmailState.Delivered, EmailState.Deferred]));

    [Fact]
    public void EmailIsAsFarAlongAsItsLeastAdvancedPendingRecipient() =>
        Assert.Equal(EmailState.Queued, EmailStates.Derive([EmailState.Sending, EmailState.Queued, EmailState.Delivered]));
}
