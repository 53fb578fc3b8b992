//! The transport a protocol sees: `StreamTransport` on the transport's core.

use super::*;

impl<S: StreamSocket, M: 'static> StreamTransport<M> for Core<S, M> {
    fn calls_in_flight(&self) -> usize {
        self.cold.calls_len()
    }

    fn max_calls_in_flight(&self) -> usize {
        self.max_calls as usize
    }

    fn call_ticket(&mut self, convert: Convert<M>) -> Option<Ticket> {
        self.ticket(convert)
    }

    fn call_refused(&mut self, seq: u64, error: switchboard_protocols::CallError) {
        self.refuse(seq, error);
    }

    fn write(&mut self, data: &[u8]) -> Result<(), WriteError> {
        self.write_inner(data)
    }

    fn write_bytes(&mut self, mut data: Bytes) -> Result<(), WriteError> {
        if !self.admit(data.len())? {
            return Ok(());
        }
        if let Some(off) = self.write_direct(&data) {
            if off < data.len() {
                // The owned value becomes the queued tail: no copy, no clone.
                data.advance(off);
                self.enqueue(data);
            }
        }
        Ok(())
    }

    fn writelines(&mut self, list: &[&[u8]]) -> Result<(), WriteError> {
        let total: usize = list.iter().map(|b| b.len()).sum();
        if !self.admit(total)? {
            return Ok(());
        }
        for part in list {
            self.write_inner(part)?;
        }
        Ok(())
    }

    fn write_eof(&mut self) -> Result<(), WriteError> {
        if self.write != WriteSide::Open || self.phase >= Phase::Closing {
            return Ok(());
        }
        self.facts.tell(StreamInfo::mark_eof_written);
        if self.buffered == 0 {
            self.shutdown_write();
        } else {
            self.write = WriteSide::EofPending;
        }
        Ok(())
    }

    fn can_write_eof(&self) -> bool {
        true
    }

    fn close(&mut self) {
        if self.phase >= Phase::Closing {
            return;
        }
        self.phase = Phase::Closing;
        self.read = ReadSide::Done;
        self.facts.tell(StreamInfo::set_closing);
        if self.buffered == 0 {
            self.finish_close();
        }
    }

    fn abort(&mut self) {
        self.die(None);
    }

    fn is_closing(&self) -> bool {
        self.phase >= Phase::Closing
    }

    fn pause_reading(&mut self) {
        if self.read == ReadSide::Active {
            self.read = ReadSide::Paused;
            self.facts.tell(|i| i.set_reading(false));
        }
    }

    fn resume_reading(&mut self) {
        if self.read == ReadSide::Paused {
            self.read = ReadSide::Active;
            self.facts.tell(|i| i.set_reading(true));
            // Edge-triggered polling will not repeat an edge we skipped.
            self.read_again = true;
        }
    }

    fn is_reading(&self) -> bool {
        self.read == ReadSide::Active && self.phase <= Phase::Open
    }

    fn get_write_buffer_size(&self) -> usize {
        self.buffered
    }

    fn get_write_buffer_limits(&self) -> WriteLimits {
        self.flow.limits()
    }

    fn set_write_buffer_limits(
        &mut self,
        high: Option<usize>,
        low: Option<usize>,
    ) -> Result<(), LimitsError> {
        match self.flow.set_limits(high, low, self.buffered)? {
            Some(FlowSignal::Pause) => {
                self.cold.raise(Raised::PauseWriting);
                self.facts.tell(|i| i.set_writing_paused(true));
            }
            Some(FlowSignal::Resume) => {
                self.cold.raise(Raised::ResumeWriting);
                self.facts.tell(|i| i.set_writing_paused(false));
            }
            None => {}
        }
        Ok(())
    }

    fn keep_open(&mut self) {
        self.keep_open = true;
    }

    fn set_protocol(&mut self, protocol: AnyStreamProtocol<M>) {
        self.cold.set_protocol(protocol);
    }

    fn peername(&self) -> Option<Address> {
        self.facts.peername().cloned()
    }

    fn sockname(&self) -> Option<Address> {
        self.facts.sockname().cloned()
    }

    fn fileno(&self) -> Option<RawFd> {
        self.socket.as_ref().map(|s| s.as_raw_fd())
    }

    fn socket(&self) -> Option<SocketRef<'_>> {
        self.socket
            .as_ref()
            .map(|s| SocketRef::new(s.as_fd(), &SOCKET_OPS))
    }

    fn call_later(&mut self, delay: Duration, token: u32) {
        if self.phase < Phase::Dying {
            self.cold.raise(Raised::Timer { delay, token });
        }
    }

    fn addr(&self) -> Option<Addr<M>>
    where
        M: Send,
    {
        Some(internal::current_addr(self.id, self.mailer.clone()))
    }

    fn start_tls(&mut self, upgrade: TlsUpgrade) -> Result<(), TlsError> {
        if self.phase >= Phase::Closing || self.write != WriteSide::Open {
            return Err(TlsError::Closing);
        }
        if self.cold.has_upgrade() {
            return Err(TlsError::AlreadyTls);
        }
        self.cold.set_upgrade(upgrade);
        Ok(())
    }

    fn share_facts(&mut self) -> Option<(ActorId, std::rc::Rc<dyn std::any::Any>)> {
        let info: std::rc::Rc<dyn std::any::Any> = Core::share_facts(self, None);
        Some((self.id, info))
    }
}
