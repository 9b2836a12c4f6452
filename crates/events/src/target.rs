//! EventBridge as a delivery target: event buses (S3's `aws.s3` events to the default bus, a
//! rule's event-bus target) and API destinations, addressed by their `events` ARNs.

use lb_core::arn::Arn;
use lb_core::deliver::{BoxFuture, DeliveryError, DestinationError, Message, Target};
use lb_core::policy::PolicyRequest;

use crate::connections::HttpParameters;
use crate::route::HTTP_PARAMETERS_ATTRIBUTE;
use crate::Events;

impl Events {
    fn deliver_to_bus(&self, arn: &Arn, msg: &Message) -> Result<(), DeliveryError> {
        let name = arn.resource.strip_prefix("event-bus/").unwrap_or_default();
        let bus = self
            .bus_handle(&arn.region, &arn.account, name)
            .ok_or_else(|| DeliveryError::not_found(format!("Event bus {name} does not exist.")))?;
        let sender = msg.source_account.as_deref().unwrap_or(&arn.account);
        if sender != bus.account && !crate::service::allows_put_events(bus.policy().as_deref(), sender) {
            return Err(DeliveryError::access_denied(format!(
                "The policy of event bus {} does not allow account {sender} to perform events:PutEvents on it.",
                bus.arn
            )));
        }
        let account = msg.source_account.as_deref().unwrap_or(&bus.account);
        self.route_delivered(
            &bus,
            std::sync::Arc::clone(&msg.body),
            account,
            msg.trace_header.clone(),
        )
        .map_err(|_| {
            DeliveryError::retryable(
                "ThrottlingException",
                "The delivery engine had no room for the event's deliveries.",
            )
        })
    }
}

impl Target for Events {
    fn deliver<'a>(&'a self, arn: &'a Arn, msg: &'a Message) -> BoxFuture<'a, Result<(), DeliveryError>> {
        if arn.resource.starts_with("event-bus/") {
            let r = self.deliver_to_bus(arn, msg);
            return Box::pin(async move { r });
        }
        if arn.resource.starts_with("api-destination/") {
            let params: HttpParameters = msg
                .attributes
                .get(HTTP_PARAMETERS_ATTRIBUTE)
                .and_then(|a| a.string_value.as_deref())
                .and_then(|j| serde_json::from_str(j).ok())
                .unwrap_or_default();
            return Box::pin(async move { self.destinations().invoke(arn, &msg.body, &params).await });
        }
        let r = Err(DeliveryError::not_found(format!(
            "{arn} is not an EventBridge resource that receives events."
        )));
        Box::pin(async move { r })
    }

    fn authorize(&self, arn: &Arn, _req: &PolicyRequest<'_>) -> Result<(), DestinationError> {
        let name = arn
            .resource
            .strip_prefix("event-bus/")
            .ok_or(DestinationError::NotFound)?;
        self.bus_handle(&arn.region, &arn.account, name)
            .map(|_| ())
            .ok_or(DestinationError::NotFound)
    }
}
