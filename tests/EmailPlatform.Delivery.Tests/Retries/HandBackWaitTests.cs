using EmailPlatform.Delivery.Retries;
using EmailPlatform.Delivery.Storage;

namespace EmailPlatform.Delivery.Tests.Retries;

/// <summary>
/// A recipient handed back and not picked up is handed back again after <c>Delivery:RequeueAfter</c>, then after twice as
/// long each time, up to eight times as long: a lane hours behind holds a few copies of its command, not one more every
/// fifteen minutes.
/// </summary>
public sealed class HandBackWaitTests
{
    private static readonly DateTime Now = new(2026, 12, 7, 12, 0, 0, DateTimeKind.Utc);
    private static readonly TimeSpan RequeueAfter = TimeSpan.FromMinutes(15);

    [Theory]
    // A retry due now (deferred), or a claim that lapsed (sending): the first hand-back.
    [InlineData("Deferred", 240, 15)]
    [InlineData("Sending", 30, 15)]
    // Handed back 15 minutes ago and still queued: 30, then 60, 120, and no longer than 120.
    [InlineData("Queued", 15, 30)]
    [InlineData("Queued", 30, 60)]
    [InlineData("Queued", 60, 120)]
    [InlineData("Queued", 120, 120)]
    [InlineData("Queued", 600, 120)]
    // Queued a moment ago by something else (an operator's retry, due at once): no shorter than RequeueAfter.
    [InlineData("Queued", 0, 15)]
    public void EachHandBackOfARecipientNotPickedUpWaitsTwiceAsLongUpToEightTimesRequeueAfter(string state, int minutesSinceUpdate, int expectedMinutes)
    {
        var record = new DeliveryRecord
        {
            EmailId = Guid.NewGuid(),
            Recipient = "alice@example.com",
            State = Enum.Parse<DeliveryState>(state),
            UpdatedAt = Now.AddMinutes(-minutesSinceUpdate),
        };

        Assert.Equal(TimeSpan.FromMinutes(expectedMinutes), RetryScheduler.HandBackWait(record, Now, RequeueAfter));
    }
}
